/** Hugging Face style folders: layouts, labels, preprocessing recipes, and errors that name file and field. */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findHfModelFile, HfFolderError, imagePreprocessingFor, isHfModelFolder, readHfFolder } from '../../src/data/hf-folder.js';
import { RESAMPLE } from '../../src/data/images.js';

const FIXTURE = join(import.meta.dirname, '..', '..', 'models', 'hf_vit_op17_dyn.onnx');
const root = mkdtempSync(join(tmpdir(), 'vitlin-hf-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A fresh folder with the model at `layout` and the given JSON files (strings are written verbatim). */
function folder(files: Record<string, unknown>, layout: 'onnx/model.onnx' | 'model.onnx' = 'onnx/model.onnx'): string {
  const dir = join(root, `m${counter++}`);
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  copyFileSync(FIXTURE, join(dir, layout));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
}

const VIT_PREPROCESSOR = {
  do_resize: true, size: { height: 32, width: 32 }, resample: 2, do_rescale: true, rescale_factor: 1 / 255,
  do_normalize: true, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225],
};

describe('readHfFolder', () => {
  it.each(['onnx/model.onnx', 'model.onnx'] as const)('finds the model at %s', (layout) => {
    const dir = folder({}, layout);
    expect(isHfModelFolder(dir)).toBe(true);
    expect(findHfModelFile(dir)).toBe(join(dir, layout));
    expect(readHfFolder(dir)).toEqual({ name: dir.split('/').at(-1), folder: dir, modelPath: join(dir, layout) });
  });

  it('reads labels, image size, channels and preprocessing', () => {
    const dir = folder({ 'config.json': { id2label: { 1: 'dog', 0: 'cat' }, image_size: 32, num_channels: 3 }, 'preprocessor_config.json': VIT_PREPROCESSOR });
    const hf = readHfFolder(dir);
    expect(hf.labels).toEqual(['cat', 'dog']);
    expect([hf.imageSize, hf.numChannels]).toEqual([32, 3]);
    expect(hf.preprocessor).toMatchObject({ doResize: true, size: { height: 32, width: 32 }, doCenterCrop: false, rescaleFactor: 1 / 255, imageStd: [0.229, 0.224, 0.225] });
  });

  it('is not an HF folder without a model file', () => {
    const dir = join(root, 'empty');
    mkdirSync(dir, { recursive: true });
    expect(isHfModelFolder(dir)).toBe(false);
    expect(() => readHfFolder(dir)).toThrow(/has neither onnx\/model.onnx nor model.onnx/);
  });

  const bad: [string, Record<string, unknown>, string, string | undefined, RegExp][] = [
    ['config.json that is not JSON', { 'config.json': '{"id2label": ' }, 'config.json', undefined, /is not valid JSON/],
    ['config.json that is an array', { 'config.json': [] }, 'config.json', undefined, /must hold a JSON object/],
    ['id2label with a gap', { 'config.json': { id2label: { 0: 'a', 2: 'c' } } }, 'config.json', 'id2label.2', /class id from 0 to 1/],
    ['id2label with a number label', { 'config.json': { id2label: { 0: 7 } } }, 'config.json', 'id2label.0', /must be a string/],
    ['image_size 0', { 'config.json': { image_size: 0 } }, 'config.json', 'image_size', /positive integer/],
    ['size as a string', { 'preprocessor_config.json': { size: '224' } }, 'preprocessor_config.json', 'size', /integer or an object/],
    ['size without width', { 'preprocessor_config.json': { size: { height: 224 } } }, 'preprocessor_config.json', 'size.width', /positive integer/],
    ['size with longest_edge', { 'preprocessor_config.json': { size: { shortest_edge: 224, longest_edge: 1333 } } }, 'preprocessor_config.json', 'size.longest_edge', /not supported/],
    ['crop_size as shortest_edge', { 'preprocessor_config.json': { crop_size: { shortest_edge: 224 } } }, 'preprocessor_config.json', 'crop_size', /height and width/],
    ['do_resize as a string', { 'preprocessor_config.json': { do_resize: 'yes' } }, 'preprocessor_config.json', 'do_resize', /true or false/],
    ['resample 7', { 'preprocessor_config.json': { resample: 7 } }, 'preprocessor_config.json', 'resample', /PIL filter number/],
    ['image_std with a zero', { 'preprocessor_config.json': { image_std: [0.5, 0, 0.5] } }, 'preprocessor_config.json', 'image_std', /positive number/],
    ['rescale_factor negative', { 'preprocessor_config.json': { rescale_factor: -1 } }, 'preprocessor_config.json', 'rescale_factor', /positive number/],
  ];
  it.each(bad)('refuses %s, naming file and field', (_name, files, file, field, message) => {
    const dir = folder(files);
    let error: unknown;
    try {
      readHfFolder(dir);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(HfFolderError);
    expect((error as HfFolderError).file).toBe(join(dir, file));
    expect((error as HfFolderError).field).toBe(field);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(file);
  });
});

describe('imagePreprocessingFor', () => {
  const NCHW = ['batch', 3, 32, 32];
  it('uses ViTImageProcessor defaults without a preprocessor config', () => {
    expect(imagePreprocessingFor(undefined, NCHW, 'm')).toEqual({
      channels: 3, resize: { height: 32, width: 32 }, resample: RESAMPLE.bilinear, rescaleFactor: 1 / 255, normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    });
    expect(imagePreprocessingFor(undefined, ['batch', 1, 28, 28], 'm').normalize).toEqual({ mean: [0.5], std: [0.5] });
  });

  it('follows the folder\'s config: shortest edge, centre crop, no rescale', () => {
    const hf = readHfFolder(folder({ 'preprocessor_config.json': { size: { shortest_edge: 40 }, crop_size: 32, do_center_crop: true, resample: 3, do_rescale: false, image_mean: 0.1, image_std: 2 } }));
    expect(imagePreprocessingFor(hf, NCHW, 'm')).toEqual({
      channels: 3, resize: { shortestEdge: 40 }, resample: RESAMPLE.bicubic, crop: { height: 32, width: 32 }, normalize: { mean: [0.1], std: [2] },
    });
  });

  it('takes the size from config.json image_size when the model input is fully dynamic', () => {
    const hf = readHfFolder(folder({ 'config.json': { image_size: 28, num_channels: 1 } }));
    expect(imagePreprocessingFor(hf, ['b', 'c', 'h', 'w'], 'm')).toMatchObject({ channels: 1, resize: { height: 28, width: 28 } });
  });

  const mismatches: [string, Record<string, unknown>, ReadonlyArray<number | string>, RegExp][] = [
    ['a size the model does not take', { 'preprocessor_config.json': { size: 224 } }, NCHW, /preprocessor_config.json: 'size' gives 224×224 images, the model takes 32×32/],
    ['a crop the model does not take', { 'preprocessor_config.json': { size: 256, crop_size: 224 } }, NCHW, /'crop_size' gives 224×224/],
    ['do_center_crop without crop_size', { 'preprocessor_config.json': { do_center_crop: true } }, NCHW, /'crop_size' is needed/],
    ['RGB mean for a grey model', { 'preprocessor_config.json': VIT_PREPROCESSOR }, ['b', 1, 32, 32], /'image_mean' has 3 values, the model takes 1 channel/],
    ['a rank-3 input', {}, ['b', 3, 32], /must be NCHW \(rank 4\)/],
    ['a 4-channel input', {}, ['b', 4, 32, 32], /1 or 3 channels, the model takes 4/],
    ['no size anywhere', { 'preprocessor_config.json': { do_resize: true } }, ['b', 3, 'h', 'w'], /'size' is needed/],
  ];
  it.each(mismatches)('refuses %s', (_name, files, shape, message) => {
    const hf = readHfFolder(folder(files));
    expect(() => imagePreprocessingFor(hf, shape, 'm')).toThrow(message);
  });
});
