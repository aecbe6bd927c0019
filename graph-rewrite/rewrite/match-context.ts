/**
 * The state of one attempt to match a rule at one anchor node: the nodes bound so far (their count is
 * how far the attempt got), and helpers a pattern is written with — walking producers and consumers,
 * skipping value-neutral ops, reading constants and folded shape values, and trying alternatives.
 * A pattern fails by calling {@link MatchContext.fail}, which records why and where it stopped.
 */

import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { dataTypeName } from '../ir/dtypes.js';
import { constantScalarOf } from '../analysis/constants.js';
import { evaluateScalar } from '../analysis/scalar-expression.js';
import { formatShape, type Dim } from '../analysis/dims.js';

/** A pattern or check that did not hold: why, at which node, and how many nodes were matched before. */
export class MatchFailure extends Error {
  constructor(readonly reason: string, readonly node: Node | undefined, readonly progress: number) {
    super(reason);
    this.name = 'MatchFailure';
  }
}

/** Ops that change neither values' layout nor their meaning (Cast only changes precision). */
export const VALUE_NEUTRAL_OPS: ReadonlySet<string> = new Set(['Identity', 'Cast', 'Dropout']);

/** Ops that read only a tensor's shape, not its data (exporters compute Reshape targets with them). */
export const METADATA_OPS: ReadonlySet<string> = new Set(['Shape', 'Size']);

/** Whether `node` reads only the shape of its input. */
export function isMetadataReader(node: Node): boolean {
  return node.domain === '' && METADATA_OPS.has(node.opType);
}

/** `node '/blocks.0/attn/Add' (Add)`: how rule messages name a node. */
export function describeNode(node: Node): string {
  return node.name ? `${node.opType} '${node.name}'` : `an unnamed ${node.opType} node`;
}

/** An alternative of {@link MatchContext.firstOf}: a name for messages and the sub-pattern. */
export type Alternative<T> = readonly [name: string, pattern: (context: MatchContext) => T];

export class MatchContext {
  readonly #bound = new Map<Node, string>();

  /**
   * `opsets`: the model's opset imports (domain → version; '' = ONNX), for version-dependent
   * semantics such as Softmax's default axis.
   */
  constructor(
    readonly graph: Graph,
    readonly opsets: ReadonlyMap<string, number>,
    readonly rule: string,
    readonly anchor: Node,
  ) {}

  /** The model's default-domain (ONNX) opset, or undefined when it imports none. */
  get onnxOpset(): number | undefined {
    return this.opsets.get('') ?? this.opsets.get('ai.onnx');
  }

  /** Nodes matched so far, with the role the pattern gave each. */
  get bound(): ReadonlyMap<Node, string> {
    return this.#bound;
  }

  /** How far the attempt got: the number of nodes matched. */
  get progress(): number {
    return this.#bound.size;
  }

  /** Records `node` as part of the match. */
  bind(node: Node, role: string): Node {
    if (!this.#bound.has(node)) this.#bound.set(node, role);
    return node;
  }

  /** Stops the attempt: `reason` is what users read; `node` is where the pattern stopped. */
  fail(reason: string, node?: Node): never {
    throw new MatchFailure(reason, node, this.progress);
  }

  ensure(condition: unknown, reason: string | (() => string), node?: Node): asserts condition {
    if (!condition) this.fail(typeof reason === 'string' ? reason : reason(), node);
  }

  /** The node producing `value`, which must be one of `opTypes` (default domain). */
  producer(value: Value | undefined, opTypes: readonly string[], what: string, near?: Node): Node {
    const node = value?.producer();
    if (node === undefined || node.graph !== this.graph) {
      const found = value === undefined ? 'nothing' : value.isGraphInput() ? `the graph input '${value.name}'` : `the constant ${value.label}`;
      this.fail(`expected ${what} from ${opTypes.join(' / ')}, found ${found}`, near);
    }
    this.ensure(node.domain === '' && opTypes.includes(node.opType), () => `expected ${what} from ${opTypes.join(' / ')}, found ${describeNode(node)}`, node);
    return node;
  }

  /** Walks up from `value` through value-neutral ops (binding them); returns the first other value. */
  skipNeutralUp(value: Value): Value {
    let current = value;
    for (let node = current.producer(); node !== undefined && node.domain === '' && VALUE_NEUTRAL_OPS.has(node.opType); node = current.producer()) {
      if (node.graph !== this.graph) break;
      this.bind(node, node.opType);
      current = node.inputs[0]!;
    }
    return current;
  }

  /**
   * The only node reading `value`'s data (Shape / Size readers, which exporters add to compute
   * Reshape targets, do not count); fails when there are several or the value is a graph output.
   */
  soleConsumer(value: Value, what: string, near?: Node): Node {
    const uses = value.uses().filter((use) => !isMetadataReader(use.node));
    this.ensure(!value.isGraphOutput(), () => `${what} (${value.label}) is a graph output`, near);
    this.ensure(uses.length === 1, () => `${what} (${value.label}) is read by ${uses.length} nodes, expected 1`, near);
    return uses[0]!.node;
  }

  /** Walks down from `value` through value-neutral ops with single consumers (binding them); returns the first other consumer. */
  skipNeutralDown(value: Value, what: string, near?: Node): { value: Value; consumer: Node } {
    let current = value;
    let consumer = this.soleConsumer(current, what, near);
    while (consumer.domain === '' && VALUE_NEUTRAL_OPS.has(consumer.opType)) {
      this.bind(consumer, consumer.opType);
      current = consumer.outputs[0]!;
      consumer = this.soleConsumer(current, what, consumer);
    }
    return { value: current, consumer };
  }

  /** The number a one-element value holds: a constant, or a scalar expression of constants and shape values. */
  scalar(value: Value | undefined): number | undefined {
    return constantScalarOf(value) ?? evaluateScalar(value, (v) => this.ints(v));
  }

  /** Known contents of a small integer tensor: constants and folded shape subgraphs (symbolic entries allowed). */
  ints(value: Value | undefined): readonly Dim[] | undefined {
    return value?.inferred?.intValues;
  }

  /** Like {@link ints}, but every entry must be a number. */
  staticInts(value: Value | undefined): number[] | undefined {
    const values = this.ints(value);
    return values !== undefined && values.every((v): v is number => typeof v === 'number') ? [...values] : undefined;
  }

  /** The value's shape as the graph's shape inference (or the rewrite that made it) found it. */
  shapeOf(value: Value | undefined): readonly Dim[] | undefined {
    return value?.inferred?.shape;
  }

  /** The value's element type (a `DataType` code) as shape inference (or the rewrite that made it) found it. */
  elemTypeOf(value: Value | undefined): number | undefined {
    return value?.inferred?.elemType;
  }

  /** `a [1,4,49,49] FLOAT` : a value's type for messages. */
  describeType(value: Value | undefined): string {
    const { elemType, shape } = value?.inferred ?? { elemType: undefined, shape: undefined };
    return `${formatShape(shape)}${elemType === undefined ? '' : ` ${dataTypeName(elemType)}`}`;
  }

  /**
   * Tries alternative sub-patterns in order and returns the first that matches. When none does, fails
   * with the reason of the alternative that got furthest (ties: the first), prefixed by `what`.
   * Nodes bound by failed alternatives are forgotten.
   */
  firstOf<T>(what: string, alternatives: readonly Alternative<T>[]): T {
    let best: { name: string; failure: MatchFailure } | undefined;
    for (const [name, pattern] of alternatives) {
      const saved = new Map(this.#bound);
      try {
        return pattern(this);
      } catch (error) {
        if (!(error instanceof MatchFailure)) throw error;
        if (best === undefined || error.progress > best.failure.progress) best = { name, failure: error };
        this.#bound.clear();
        for (const [node, role] of saved) this.#bound.set(node, role);
      }
    }
    if (best === undefined) this.fail(`${what}: no alternatives`);
    throw new MatchFailure(`${what}: ${best.failure.reason}`, best.failure.node, best.failure.progress);
  }
}
