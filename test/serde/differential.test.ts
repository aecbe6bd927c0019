/**
 * Differential test against a second reader (protobufjs on ONNX 1.23's onnx.proto): on every fixture and
 * on thousands of seeded structure-aware mutants, vitlin decodes what protobufjs decodes, field for field,
 * and a vitlin re-save never changes what protobufjs (or vitlin) then reads.
 *
 * For each mutant vitlin decodes:
 *  - re-save → vitlin decode gives the same message (a fixed point);
 *  - protobufjs on the re-save agrees with vitlin on the mutant (the re-save has nothing protobufjs misreads);
 *  - where protobufjs reads the mutant as protobuf does (see reference-reader.ts), it agrees with vitlin on it.
 * A mutant vitlin refuses must be refused with a typed error.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OnnxDecodeError, UnsupportedIrVersionError } from '../../graph-rewrite/errors.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import type { ModelProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { seededRandom } from '../../src/runtime/random-feeds.js';
import { everyFieldModel } from './every-field-model.js';
import { subgraphModel } from './fixtures.js';
import { cloneWire, mutate, MUTATION_KINDS, serializeWire, type MutationKind } from './mutants.js';
import {
  compareWithReference, parseWire, protobufjsIsFaithful, referenceDecode, referenceType,
} from './reference-reader.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');
const FIXTURES = readdirSync(MODELS).filter((f) => f.endsWith('.onnx')).sort();
function agreeing(model: ModelProto, bytes: Uint8Array): string[] {
  try {
    return compareWithReference('ModelProto', model as unknown as Record<string, unknown>, referenceDecode(bytes)).differences;
  } catch (error) {
    return [`protobufjs fails: ${(error as Error).message}`];
  }
}

describe('vitlin and protobufjs read the same model', () => {
  it.each(FIXTURES)('%s: the same fields and values, and the re-save is byte-identical', (file) => {
    const bytes = new Uint8Array(readFileSync(join(MODELS, file)));
    const model = decodeModelProto(bytes);
    const agreement = compareWithReference('ModelProto', model as unknown as Record<string, unknown>, referenceDecode(bytes));
    expect(agreement.differences).toEqual([]);
    expect(agreement.fieldsCompared).toBeGreaterThan(100);
    expect(Buffer.compare(encodeModelProtoToBytes(model), bytes)).toBe(0); // (vitest's deep equality is slow on 400 kB)
  });
});

interface Tally {
  mutants: number;
  byKind: Record<MutationKind, number>;
  decoded: number;
  refused: number;
  comparedOnMutant: number;
  comparedOnResave: number;
  failures: string[];
}

function checkMutant(mutant: Uint8Array, label: string, tally: Tally): void {
  let model: ModelProto;
  try {
    model = decodeModelProto(mutant);
  } catch (error) {
    if (error instanceof OnnxDecodeError || error instanceof UnsupportedIrVersionError) tally.refused++;
    else tally.failures.push(`${label}: ${(error as Error).constructor.name}: ${(error as Error).message}`);
    return;
  }
  tally.decoded++;
  const resave = encodeModelProtoToBytes(model);
  if (!isDeepStrictEqual(decodeModelProto(resave), model)) tally.failures.push(`${label}: the re-save decodes differently`);
  // Known fields with another wire type stay in the re-save as unknown fields: protobufjs misreads those.
  if (faithful(resave)) {
    tally.comparedOnResave++;
    const afterResave = agreeing(model, resave);
    if (afterResave.length > 0) tally.failures.push(`${label}: protobufjs reads the re-save differently: ${afterResave.slice(0, 3).join('; ')}`);
  }
  if (faithful(mutant)) {
    tally.comparedOnMutant++;
    const onMutant = agreeing(model, mutant);
    if (onMutant.length > 0) tally.failures.push(`${label}: protobufjs reads the mutant differently: ${onMutant.slice(0, 3).join('; ')}`);
  }
}

function faithful(bytes: Uint8Array): boolean {
  try {
    return protobufjsIsFaithful(parseWire(bytes, referenceType('ModelProto')), referenceType('ModelProto'));
  } catch {
    return false;
  }
}

/** Mutants of each source: `count` seeded single or double mutations. */
function runMutants(bytes: Uint8Array, count: number, seed: number, tally: Tally): void {
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const tree = parseWire(bytes, referenceType('ModelProto'));
  for (let i = 0; i < count; i++) {
    const copy = cloneWire(tree);
    const kinds = [mutate(copy, pick), ...(pick(3) === 0 ? [mutate(copy, pick)] : [])].filter((k) => k !== undefined);
    if (kinds.length === 0) continue;
    for (const kind of kinds) tally.byKind[kind]++;
    tally.mutants++;
    checkMutant(serializeWire(copy), `seed ${seed} #${i} (${kinds.join('+')})`, tally);
  }
}

const newTally = (): Tally => ({
  mutants: 0, byKind: Object.fromEntries(MUTATION_KINDS.map((k) => [k, 0])) as Record<MutationKind, number>,
  decoded: 0, refused: 0, comparedOnMutant: 0, comparedOnResave: 0, failures: [],
});

/** Each costs six passes over a 100-500 kB model; the small models above take the thousands. */
const MUTANTS_PER_FIXTURE = 3;

describe('seeded mutants: vitlin agrees with protobufjs, and a re-save changes nothing a reader sees', () => {
  it.each([
    ['the every-field model', () => encodeModelProtoToBytes(everyFieldModel()), 1200, 11],
    ['the If/subgraph model', () => encodeModelProtoToBytes(subgraphModel()), 1500, 12],
  ])('%s: %d mutants', (_, build, count, seed) => {
    const tally = newTally();
    runMutants(build(), count, seed, tally);
    expect(tally.failures).toEqual([]);
    expect(tally.mutants).toBeGreaterThan(count * 0.9);
    expect(tally.decoded).toBeGreaterThan(tally.mutants / 2);
    expect(tally.comparedOnMutant).toBeGreaterThan(tally.mutants / 4);
    expect(tally.comparedOnResave).toBeGreaterThan(tally.decoded / 2);
    for (const kind of MUTATION_KINDS) expect(tally.byKind[kind]).toBeGreaterThan(count / 40);
    console.log(`differential ${_}: ${JSON.stringify({ ...tally, failures: tally.failures.length })}`);
  });

  it(`every real fixture: ${MUTANTS_PER_FIXTURE} mutants each (${FIXTURES.length} fixtures)`, () => {
    const tally = newTally();
    FIXTURES.forEach((file, i) => runMutants(new Uint8Array(readFileSync(join(MODELS, file))), MUTANTS_PER_FIXTURE, 100 + i, tally));
    expect(tally.failures).toEqual([]);
    console.log(`differential fixtures: ${JSON.stringify({ ...tally, failures: tally.failures.length })}`);
  });
});
