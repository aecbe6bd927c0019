/** Hugging Face / transformers.js model folders: labels and preprocessing come from their configs, for every command. */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS, BUILD_TIMEOUT_MS, ensureBuilt, expectOneLineError, tempFolder, vitlin } from './helpers.js';

const tmp = tempFolder();
const vit = join(tmp.path, 'tiny-vit');
const images = join(tmp.path, 'images');
const CLASSES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'boot'];

beforeAll(() => {
  ensureBuilt();
  mkdirSync(join(vit, 'onnx'), { recursive: true });
  copyFileSync(join(MODELS, 'timm_vit.onnx'), join(vit, 'onnx', 'model.onnx'));
  writeFileSync(join(vit, 'config.json'), JSON.stringify({ id2label: Object.fromEntries(CLASSES.map((c, i) => [String(i), c])), image_size: 32, num_channels: 3 }));
  writeFileSync(join(vit, 'preprocessor_config.json'), JSON.stringify({
    do_resize: true, size: { height: 32, width: 32 }, resample: 2, do_rescale: true, rescale_factor: 1 / 255,
    do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5],
  }));
  mkdirSync(images);
  for (let i = 0; i < 5; i++) {
    // Different sizes: the preprocessor resizes them all to 32×32.
    const [w, h] = [48 + i * 8, 40 + i * 4];
    const data = Uint8Array.from({ length: w * h * 3 }, (_, j) => (j * (i + 5) * 13) % 256);
    writeFileSync(join(images, `photo${i}.png`), encode({ width: w, height: h, data, channels: 3, depth: 8 }));
  }
  writeFileSync(join(tmp.path, 'labels.json'), JSON.stringify(Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`photo${i}.png`, CLASSES[i * 2]]))));
}, BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

describe('Hugging Face model folders', () => {
  it('inspect reads the folder\'s model', async () => {
    const r = await vitlin(['inspect', vit, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).blocks).toHaveLength(2);
  });

  it('convert writes a folder in the same layout, and verify runs the images with the configs and labels', async () => {
    const out = join(tmp.path, 'tiny-vit-hydra');
    const c = await vitlin(['convert', vit, '-o', out, '--attention', 'hydra']);
    expect(c.code, c.stderr).toBe(0);
    expect(existsSync(join(out, 'onnx', 'model.onnx'))).toBe(true);
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe(readFileSync(join(vit, 'config.json'), 'utf8'));
    expect(existsSync(join(out, 'preprocessor_config.json'))).toBe(true);
    const v = await vitlin(['verify', vit, out, '--inputs', images, '--labels', join(tmp.path, 'labels.json'), '--json']);
    expect(v.code, v.stderr).toBe(0);
    const report = JSON.parse(v.stdout);
    expect(report.inputs).toMatch(/images \(5 images\)/);
    expect(report.items).toBe(5);
    expect(report.accuracy).toBeDefined();
    const same = await vitlin(['verify', vit, vit, '--inputs', images, '--json']);
    expect(JSON.parse(same.stdout).maxAbsError).toBe(0);
  });

  it('bench names a folder model by the folder', async () => {
    const r = await vitlin(['bench', vit, '--runs', '2', '--warmup', '0', '--profile-runs', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).rows[0].model).toBe('tiny-vit');
  });

  const bad: [string, () => string[], number, RegExp][] = [
    ['a folder without a model', () => ['inspect', images], 1, /neither onnx\/model\.onnx nor model\.onnx/],
    ['-o = the input folder', () => ['convert', vit, '-o', vit, '--attention', 'hydra'], 2, /is the input folder; refusing to overwrite it/],
    ['a label that is not a class', () => {
      writeFileSync(join(tmp.path, 'bad-labels.txt'), 'photo0.png jacket\n');
      return ['verify', vit, vit, '--inputs', images, '--labels', join(tmp.path, 'bad-labels.txt')];
    }, 1, /line 1: label 'jacket' is neither a class index nor a class name/],
    ['a labels file missing an image', () => {
      writeFileSync(join(tmp.path, 'few-labels.txt'), 'photo0.png 1\n');
      return ['verify', vit, vit, '--inputs', images, '--labels', join(tmp.path, 'few-labels.txt')];
    }, 1, /no label for photo1\.png, photo2\.png, photo3\.png and 1 more/],
  ];
  it.each(bad)('fails on %s with a one-line error', async (_, args, code, message) => {
    const before = existsSync(join(vit, 'onnx', 'model.onnx')) ? readFileSync(join(vit, 'onnx', 'model.onnx')) : undefined;
    const r = await vitlin(args());
    expect(r.code).toBe(code);
    expect(expectOneLineError(r)).toMatch(message);
    expect(readFileSync(join(vit, 'onnx', 'model.onnx')).equals(before!)).toBe(true);
  });
});
