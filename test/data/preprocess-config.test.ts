/** Per-model config files (<name>.vitlin.json / vitlin.json): parsing, errors naming file and field, recipes, lookup. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RESAMPLE } from '../../src/data/images.js';
import { findModelConfig, ModelConfigError, modelConfigCandidates, parseModelConfig } from '../../src/data/preprocess-config.js';
import { describeRecipe, recipeFromConfig, resolveImagePreprocessing } from '../../src/data/preprocess-recipe.js';
import { tempFolder } from '../cli/helpers.js';

const tmp = tempFolder('vitlin-preprocess-');
afterAll(() => tmp.cleanup());

const FMNIST = { preprocess: { size: [28, 28], resample: 'bilinear', rescale: 1 / 255, mean: [0.286], std: [0.353] }, labels: ['a', 'b'] };

describe('parseModelConfig', () => {
  it('reads every size form, resample names and numbers, and labels as a list or an id2label object', () => {
    const config = parseModelConfig(FMNIST, 'm.vitlin.json');
    expect(config.preprocess).toEqual({ size: { height: 28, width: 28 }, resample: RESAMPLE.bilinear, rescale: 1 / 255, mean: [0.286], std: [0.353] });
    expect(config.labels).toEqual(['a', 'b']);
    expect(parseModelConfig({ preprocess: { size: 224, crop: { height: 200, width: 200 }, resample: 3 } }, 'f').preprocess)
      .toEqual({ size: { height: 224, width: 224 }, crop: { height: 200, width: 200 }, resample: RESAMPLE.bicubic });
    expect(parseModelConfig({ preprocess: { size: { shortest_edge: 256 } } }, 'f').preprocess?.size).toEqual({ shortestEdge: 256 });
    expect(parseModelConfig({ labels: { 1: 'dog', 0: 'cat' } }, 'f').labels).toEqual(['cat', 'dog']);
  });

  it('returns the server\'s sections untouched (they are the server\'s to check), and refuses any other key', () => {
    expect(parseModelConfig({ labels: ['x'], batching: { max: 8 } }, 'f').extra).toEqual({ batching: { max: 8 } });
    expect(() => parseModelConfig({ preprocss: {} }, 'f')).toThrow("f: 'preprocss' is not a known field (known: preprocess, labels, max_batch_size, batching, instance_count, version_policy)");
  });

  const bad: [string, unknown, string][] = [
    ['not an object', [1], 'f must hold a JSON object'],
    ['a typo in preprocess', { preprocess: { maen: [0.5] } }, "f: 'preprocess.maen' is not a known field"],
    ['a bad size', { preprocess: { size: [28] } }, "f: 'preprocess.size' must be an integer, [height, width]"],
    ['a zero height', { preprocess: { size: [0, 28] } }, "f: 'preprocess.size[0]' must be a positive integer, got 0"],
    ['an unknown resample', { preprocess: { resample: 'cubic' } }, "f: 'preprocess.resample' must be one of nearest, lanczos, bilinear, bicubic, box, hamming"],
    ['a zero std', { preprocess: { mean: [0.5], std: [0] } }, "f: 'preprocess.std' must be a positive number"],
    ['mean without std', { preprocess: { mean: [0.5] } }, "f: 'preprocess.std' is missing"],
    ['a negative rescale', { preprocess: { rescale: -1 } }, "f: 'preprocess.rescale' must be a positive factor"],
    ['a number label', { labels: ['a', 2] }, "f: 'labels[1]' must be a string, got 2"],
    ['a gap in label ids', { labels: { 0: 'a', 2: 'b' } }, "f: 'labels.2' must be a class id from 0 to 1"],
  ];
  it.each(bad)('refuses %s, naming the file and field', (_, json, message) => {
    expect(() => parseModelConfig(json, 'f')).toThrow(ModelConfigError);
    expect(() => parseModelConfig(json, 'f')).toThrow(message);
  });
});

describe('recipes', () => {
  it('a config section becomes the recipe; sizes it leaves out come from the model', () => {
    const pre = parseModelConfig(FMNIST, 'f').preprocess!;
    const recipe = recipeFromConfig(pre, 'f', ['batch', 1, 28, 28]);
    expect(recipe).toEqual({ channels: 1, resize: { height: 28, width: 28 }, resample: RESAMPLE.bilinear, rescaleFactor: 1 / 255, normalize: { mean: [0.286], std: [0.353] } });
    expect(describeRecipe(recipe)).toBe('resize 28×28 (bilinear), ×1/255, mean 0.286, std 0.353, 1 channel');
    expect(recipeFromConfig({ rescale: false, normalize: false }, 'f', [1, 3, 32, 32])).toEqual({ channels: 3, resize: { height: 32, width: 32 }, resample: RESAMPLE.bilinear });
  });

  it('refuses a config that disagrees with the model', () => {
    expect(() => recipeFromConfig({ size: { height: 32, width: 32 } }, 'f', [1, 1, 28, 28])).toThrow("f: 'preprocess.size' gives 32×32 images, the model takes 28×28");
    expect(() => recipeFromConfig({ mean: [0.1, 0.2], std: [1, 1] }, 'f', [1, 3, 8, 8])).toThrow("f: 'preprocess.mean' has 2 values, the model takes 3 channel(s)");
    expect(() => recipeFromConfig({}, 'f', [1, 3, 'h', 'w'])).toThrow("f: 'preprocess.size' is needed");
  });
});

describe('lookup and resolution', () => {
  it('finds <name>.vitlin.json beside the model, and vitlin.json first in a model folder', () => {
    const model = join(tmp.path, 'net.onnx');
    expect(modelConfigCandidates(model)).toEqual([join(tmp.path, 'net.vitlin.json')]);
    expect(findModelConfig(model)).toBeUndefined();
    writeFileSync(join(tmp.path, 'net.vitlin.json'), JSON.stringify(FMNIST));
    expect(findModelConfig(model)?.file).toBe(join(tmp.path, 'net.vitlin.json'));
    const folder = join(tmp.path, 'folder');
    mkdirSync(folder);
    writeFileSync(join(folder, 'vitlin.json'), JSON.stringify({ labels: ['only'] }));
    expect(findModelConfig(join(folder, 'model.onnx'), folder)?.labels).toEqual(['only']);
    writeFileSync(join(tmp.path, 'broken.vitlin.json'), '{ nope');
    expect(() => findModelConfig(join(tmp.path, 'broken.onnx'))).toThrow(/broken\.vitlin\.json is not valid JSON/);
  });

  it('says where the recipe came from, and warns only when it is the default guess', () => {
    const config = parseModelConfig(FMNIST, 'net.vitlin.json');
    const fromConfig = resolveImagePreprocessing({ name: 'net', path: '/m/net.onnx', config }, [1, 1, 28, 28]);
    expect(fromConfig).toMatchObject({ source: 'net.vitlin.json', labels: ['a', 'b'], labelsSource: 'net.vitlin.json', warnings: [] });
    const guessed = resolveImagePreprocessing({ name: 'net', path: '/m/net.onnx' }, [1, 1, 28, 28]);
    expect(guessed.source).toBe('defaults');
    expect(guessed.recipe.normalize).toEqual({ mean: [0.5], std: [0.5] });
    expect(guessed.warnings).toEqual([expect.stringMatching(/^net: no preprocessing config \(\/m\/net\.vitlin\.json\); using the standard recipe, mean = std = 0\.5/)]);
    expect(guessed.labels).toBeUndefined();
  });
});
