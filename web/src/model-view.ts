/** The opened model: what the page shows about it, and whether its input is an image we can feed. */
import { DataType, dataTypeName, formatBytes, type Model, type TensorType } from '../../src/web/index.js';
import { byId, el } from './dom.js';

/** The model's image input: [N, C, H, W] with fixed C, H, W. */
export interface ImageInput {
  readonly name: string;
  readonly type: 'float32' | 'float16';
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Fixed batch size (≥ 1) or 1 for a symbolic batch axis. */
  readonly batch: number;
  /** The symbolic batch dim's name ('batch'), which the page pins to 1. */
  readonly batchSymbol?: string;
}

/** The real inputs (graph inputs that are not initializers), as tensor types. */
function realInputs(model: Model) {
  return model.graph.inputs.filter((value) => !value.isInitializer());
}

/** The image input, or why the page cannot feed this model an image. */
export function imageInputOf(model: Model): ImageInput | string {
  const inputs = realInputs(model);
  if (inputs.length !== 1) return `the model has ${inputs.length} inputs (${inputs.map((v) => v.name ?? '?').join(', ')}); the page feeds models with one image input`;
  const input = inputs[0]!;
  const name = input.name ?? '';
  const type = input.type?.kind === 'tensor' ? (input.type as TensorType) : undefined;
  const shape = type?.shape;
  if (!type || !shape || shape.length !== 4) return `input '${name}' is not a 4-D (N, C, H, W) image tensor`;
  const elem = type.elemType === DataType.FLOAT ? 'float32' : type.elemType === DataType.FLOAT16 ? 'float16' : undefined;
  if (!elem) return `input '${name}' is ${dataTypeName(type.elemType)}; the page feeds float32 or float16 images`;
  const [n, c, h, w] = shape;
  if (typeof c !== 'number' || typeof h !== 'number' || typeof w !== 'number' || c < 1 || h < 1 || w < 1) {
    return `input '${name}' has shape [${shape.join(', ')}]; the page needs fixed channels, height and width`;
  }
  return {
    name, type: elem, channels: c, height: h, width: w, batch: typeof n === 'number' && n > 0 ? n : 1,
    ...(typeof n === 'string' ? { batchSymbol: n } : {}),
  };
}

function formatShape(type: TensorType | undefined): string {
  if (!type) return '?';
  return `${dataTypeName(type.elemType)}[${type.shape?.map((d) => d ?? '?').join(', ') ?? '…'}]`;
}

export function renderModelInfo(name: string, bytes: number, model: Model): void {
  const info = byId<HTMLDListElement>('model-info');
  const tensor = (t: unknown): TensorType | undefined => ((t as TensorType | undefined)?.kind === 'tensor' ? (t as TensorType) : undefined);
  const rows: [string, string][] = [
    ['model', `${name} (${formatBytes(bytes)})`],
    ['opsets', [...model.opsetImports].map(([domain, version]) => `${domain || 'ai.onnx'} ${version}`).join(', ')],
    ['IR version', String(model.irVersion ?? '?')],
    ['producer', [model.producerName, model.producerVersion].filter(Boolean).join(' ') || '—'],
    ['nodes', String(model.graph.nodes.length)],
    ['inputs', realInputs(model).map((v) => `${v.name ?? '?'}: ${formatShape(tensor(v.type))}`).join('; ')],
    ['outputs', model.graph.outputs.map((v) => `${v.name ?? '?'}: ${formatShape(tensor(v.type))}`).join('; ')],
  ];
  info.replaceChildren(...rows.flatMap(([key, value]) => [el('dt', {}, key), el('dd', {}, value)]));
  info.hidden = false;
}
