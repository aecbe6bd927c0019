/**
 * One vitlin.json, two consumers: the same file beside a model is read by the CLI (`vitlin classify` and
 * `vitlin verify --inputs <images>`, as a user runs them) and by `vitlin serve`'s repository — the same
 * recipe, labels and predictions when it is valid, and the same error, naming the file and the field, when
 * it is not.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, ensureBuilt, expectOneLineError, vitlin } from '../cli/helpers.js';
import { MODELS, post, request, serve, type TestServer } from './helpers.js';
import { DataType, writeOneNodeModel } from './tiny-models.js';

const FMNIST = join(MODELS, 'fmnist_softmax.onnx');
const SHIRT_PNG = join(MODELS, 'data', 'fashion-mnist-png', '000.png');
const LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
/** A 4×4 RGB image whose pixels all differ, so an axis-order slip changes the answer. */
const RGB_PNG = encodePng({ width: 4, height: 4, channels: 3, data: Uint8Array.from({ length: 48 }, (_, i) => (37 * i + 11) % 256) });

interface Row {
  readonly name: string;
  /** The fmnist model, or a one-node Identity model with these input dims (its "logits" are the pixels it got). */
  readonly model: 'fmnist' | { dims: number[] };
  readonly config: unknown;
  readonly files?: Record<string, string>;
}

const VALID: (Row & { image: Uint8Array })[] = [
  { name: 'stats_and_list', model: 'fmnist', image: readFileSync(SHIRT_PNG),
    config: { preprocess: { size: [28, 28], resample: 'bilinear', rescale: 1 / 255, mean: [0.286], std: [0.353] }, labels: LABELS } },
  { name: 'labels_file_and_server_sections', model: 'fmnist', image: readFileSync(SHIRT_PNG), files: { 'classes.txt': `${LABELS.join('\n')}\n` },
    config: { labels: 'classes.txt', preprocess: { mean: 0.286, std: 0.353 }, max_batch_size: 4, batching: { max_queue_delay_ms: 1 }, instance_count: 1 } },
  { name: 'id2label_raw_pixels', model: 'fmnist', image: readFileSync(SHIRT_PNG),
    config: { labels: Object.fromEntries(LABELS.map((l, i) => [String(i), l])), preprocess: { rescale: false, normalize: false, resample: 'nearest' } } },
  { name: 'nhwc_echo', model: { dims: [1, 4, 4, 3] }, image: RGB_PNG, config: { preprocess: { layout: 'NHWC', mean: [0.2, 0.3, 0.4], std: [0.5, 0.6, 0.7] } } },
  { name: 'nchw_echo', model: { dims: [1, 3, 4, 4] }, image: RGB_PNG, config: { preprocess: { mean: [0.2, 0.3, 0.4], std: [0.5, 0.6, 0.7], rescale: 0.01 } } },
];

/** `fragment` is part of the one message both must give (after the file's path). */
const INVALID: (Row & { fragment: string })[] = [
  { name: 'typo_section', model: 'fmnist', config: { preprocss: { mean: 0.5, std: 0.5 } }, fragment: "'preprocss' is not a known field (known: preprocess, labels, max_batch_size," },
  { name: 'typo_field', model: 'fmnist', config: { preprocess: { maen: 0.5 } }, fragment: "'preprocess.maen' is not a known field" },
  { name: 'bad_layout', model: 'fmnist', config: { preprocess: { layout: 'CHW' } }, fragment: `'preprocess.layout' must be "NCHW" or "NHWC", got "CHW"` },
  { name: 'bad_std', model: 'fmnist', config: { preprocess: { mean: [0.3], std: [-1] } }, fragment: "'preprocess.std' must be a positive number or a non-empty list of them, got [-1]" },
  { name: 'number_label', model: 'fmnist', config: { labels: ['a', 1] }, fragment: "'labels[1]' must be a string, got 1" },
  { name: 'missing_labels_file', model: 'fmnist', config: { labels: 'nowhere.txt' }, fragment: 'nowhere.txt, which does not exist' },
  { name: 'bad_server_section', model: 'fmnist', config: { batching: { max_queue_delay_ms: -1 } }, fragment: "'batching.max_queue_delay_ms' must be an integer ≥ 0, got -1" },
  // Valid alone, wrong for this model: found when the recipe is made for the model's input.
  { name: 'wrong_size', model: 'fmnist', config: { preprocess: { size: 32 } }, fragment: "'preprocess.size' gives 32×32 images, the model takes 28×28" },
  { name: 'wrong_channels', model: 'fmnist', config: { preprocess: { channels: 3 } }, fragment: "'preprocess.channels' is 3, the model's NCHW input [" },
];

const root = mkdtempSync(join(tmpdir(), 'vitlin-shared-config-'));
const modelPath = (row: Row) => join(root, `${row.name}.onnx`);
const configPath = (row: Row) => join(root, `${row.name}.vitlin.json`);
let server: TestServer;

function writeRow(row: Row): void {
  if (row.model === 'fmnist') copyFileSync(FMNIST, modelPath(row));
  else writeOneNodeModel(modelPath(row), { dims: row.model.dims, output: 'logits', elemType: DataType.FLOAT });
  writeFileSync(configPath(row), JSON.stringify(row.config));
  for (const [file, text] of Object.entries(row.files ?? {})) writeFileSync(join(root, file), text);
}

beforeAll(async () => {
  VALID.forEach(writeRow);
  server = await serve([root]);
  // Written once the server runs: a model it cannot read then shows in the repository index, with why.
  INVALID.forEach(writeRow);
  ensureBuilt();
}, BUILD_TIMEOUT_MS);
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

/** What the server's repository says is wrong with a model: why it cannot read it, else (loaded) why its config gives no recipe. */
async function serverProblem(name: string): Promise<string | undefined> {
  const index = (await post(`${server.url}/v2/repository/index`, {})).body as { name: string; state: string; reason: string }[];
  const entry = index.find((e) => e.name === name);
  if (entry?.reason !== 'not loaded') return entry?.reason;
  const loaded = await post(`${server.url}/v2/repository/models/${name}/load`, {});
  expect(loaded.status, loaded.text).toBe(200);
  return (await request(`${server.url}/v2/models/${name}/config`)).body.preprocessing?.error;
}

describe('a valid vitlin.json gives the CLI and the server the same recipe, labels and answers', () => {
  it.each(VALID)('$name', async (row) => {
    const images = join(root, `${row.name}-images`);
    mkdirSync(images);
    const png = join(images, 'image.png');
    writeFileSync(png, row.image);
    const cli = await vitlin(['classify', modelPath(row), png, '--top', '3', '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    const said = JSON.parse(cli.stdout);
    const verified = await vitlin(['verify', modelPath(row), modelPath(row), '--inputs', images, '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout).preprocessing).toMatchObject({ description: said.preprocessing.description, source: said.preprocessing.source });
    const config = (await request(`${server.url}/v2/models/${row.name}/config`)).body;
    const { layout, source, defaulted: _, ...recipe } = config.preprocessing;
    expect(recipe).toEqual(said.recipe);
    expect(source).toBe(configPath(row));
    expect(layout).toBe((row.config as { preprocess?: { layout?: string } }).preprocess?.layout ?? 'NCHW');
    const answer = await post(`${server.url}/v1/models/${row.name}/classify?k=3`, row.image, { 'Content-Type': 'image/png' });
    expect(answer.status, answer.text).toBe(200);
    const served = answer.body.predictions as { index: number; label: string; score: number }[];
    const cliTop = said.results[0].top as { index: number; label: string; probability: number }[];
    expect(served.map((p) => [p.index, p.label])).toEqual(cliTop.map((p) => [p.index, p.label]));
    served.forEach((p, i) => expect(p.score).toBeCloseTo(cliTop[i]!.probability, 6));
    if (row.model === 'fmnist') expect(config.labels).toEqual(LABELS);
  });
});

describe('an invalid vitlin.json is refused by both with the same error, naming the file and the field', () => {
  it.each(INVALID)('$name', async (row) => {
    const cli = await vitlin(['classify', modelPath(row), SHIRT_PNG]);
    expect(cli.code).toBe(1);
    const cliMessage = expectOneLineError(cli).replace(/^vitlin classify: /, '');
    const verified = await vitlin(['verify', modelPath(row), modelPath(row), '--inputs', dirname(SHIRT_PNG), '--count', '1']);
    expect(verified.code).toBe(1);
    expect(expectOneLineError(verified)).toBe(`vitlin verify: ${cliMessage}`);
    expect(cliMessage.startsWith(`${configPath(row)}: `) || cliMessage.startsWith(`${configPath(row)} `), cliMessage).toBe(true);
    expect(cliMessage).toContain(row.fragment);
    expect(await serverProblem(row.name)).toBe(cliMessage);
  });
});
