/**
 * The config.json reader on its own: every field's accepted forms, and every refusal naming the file and
 * the field; the image recipe a config gives for a model input, and its refusals.
 */
import { describe, expect, it } from 'vitest';
import { configuredImageRecipe, parseModelConfig, type PreprocessingConfig } from '../../src/server/model-config.js';

const FILE = 'repo/m/vitlin.json';

describe('parseModelConfig', () => {
  it('gives the defaults for an empty config', () => {
    expect(parseModelConfig(FILE, {})).toEqual({ file: FILE, instanceCount: 1 });
  });

  it('reads every field', () => {
    const config = parseModelConfig(FILE, {
      max_batch_size: 8, batching: { max_queue_delay_ms: 0, preferred_batch_sizes: [8, 2], max_queue_size: 9 }, instance_count: 3,
      version_policy: { specific: { versions: [3, 1] } }, labels: ['a', 'b'],
      preprocess: { layout: 'NHWC', size: { shortest_edge: 256 }, crop: [224, 200], resample: 'bicubic', rescale: 0.5, mean: 0.1, std: [1, 2, 3], channels: 3 },
    });
    expect(config).toEqual({
      file: FILE, maxBatchSize: 8, maxQueueDelayMs: 0, preferredBatchSizes: [2, 8], maxQueueSize: 9, instanceCount: 3,
      versionPolicy: { specific: [3, 1] }, labels: ['a', 'b'],
      preprocess: { layout: 'NHWC', size: { shortestEdge: 256 }, crop: { height: 224, width: 200 }, resample: 3, rescale: 0.5, normalize: { mean: [0.1], std: [1, 2, 3] }, channels: 3, defaulted: [] },
    });
  });

  it.each([
    ['labels as config.json\'s id2label object', { labels: { 1: 'b', 0: 'a' } }, { labels: ['a', 'b'] }],
    ['no rescale, no normalisation, PIL\'s filter number', { preprocess: { rescale: false, normalize: false, resample: 0 } },
      { preprocess: { layout: 'NCHW', resample: 0, rescale: false, defaulted: [] } }],
  ])('reads %s', (_name, json, expected) => {
    expect(parseModelConfig(FILE, json)).toMatchObject(expected);
  });

  it.each([
    [{ latest: {} }, { latest: 1 }],
    [{ latest: { num_versions: 2 } }, { latest: 2 }],
    [{ all: {} }, { all: true }],
  ])('reads version_policy %j', (policy, expected) => {
    expect(parseModelConfig(FILE, { version_policy: policy }).versionPolicy).toEqual(expected);
  });

  it('fills and reports defaulted preprocessing fields', () => {
    expect(parseModelConfig(FILE, { preprocess: { size: 28 } }).preprocess).toEqual({
      layout: 'NCHW', size: { height: 28, width: 28 }, resample: 2, rescale: 1 / 255, normalize: { mean: [0.5], std: [0.5] }, defaulted: ['mean', 'std', 'rescale'],
    });
  });

  it.each([
    [[], /vitlin\.json must hold a JSON object/],
    [{ maxBatchSize: 2 }, /'maxBatchSize' is not a known field \(known: preprocess, labels, max_batch_size, batching, instance_count, version_policy\)/],
    [{ max_batch_size: 0 }, /'max_batch_size' must be an integer ≥ 1, got 0/],
    [{ max_batch_size: 2.5 }, /'max_batch_size' must be an integer ≥ 1, got 2.5/],
    [{ instance_count: '2' }, /'instance_count' must be an integer ≥ 1, got "2"/],
    [{ batching: [] }, /'batching' must be an object, got \[\]/],
    [{ batching: { delay: 1 } }, /'batching\.delay' is not a known field/],
    [{ batching: { max_queue_delay_ms: -1 } }, /'batching\.max_queue_delay_ms' must be an integer ≥ 0, got -1/],
    [{ batching: { preferred_batch_sizes: [] } }, /'batching\.preferred_batch_sizes' must be an integer ≥ 1 or a non-empty list of them, got \[\]/],
    [{ max_batch_size: 4, batching: { preferred_batch_sizes: [2, 8] } }, /'batching\.preferred_batch_sizes' must not exceed max_batch_size 4, got \[2,8\]/],
    [{ version_policy: { latest: {}, all: {} } }, /'version_policy' must have exactly one of latest, all, specific, got \{"latest":\{\},"all":\{\}\}/],
    [{ version_policy: { newest: {} } }, /'version_policy\.newest' is not a version policy/],
    [{ version_policy: { specific: {} } }, /'version_policy\.specific\.versions' must list the versions to serve/],
    [{ version_policy: { latest: { num_versions: 0 } } }, /'version_policy\.latest\.num_versions' must be an integer ≥ 1, got 0/],
    [{ labels: [1, 2] }, /'labels\[0\]' must be a string, got 1/],
    [{ labels: [] }, /'labels' must be a non-empty list of strings, an \{"0": name\} object or a file name, got \[\]/],
    [{ labels: { 0: 'a', 2: 'c' } }, /'labels\.2' must be a class id from 0 to 1/],
    [{ preprocess: { layout: 'CHW' } }, /'preprocess\.layout' must be "NCHW" or "NHWC", got "CHW"/],
    [{ preprocess: { resample: 9 } }, /'preprocess\.resample' must be one of nearest, lanczos, bilinear, bicubic, box, hamming \(or PIL's number\), got 9/],
    [{ preprocess: { rescale: true } }, /'preprocess\.rescale' must be a positive factor .* or false, got true/],
    [{ preprocess: { normalize: 'no' } }, /'preprocess\.normalize' must be true or false, got "no"/],
    [{ preprocess: { mean: [0.5] } }, /'preprocess\.std' is missing: give mean and std together/],
    [{ preprocess: { std: [1, 0] } }, /'preprocess\.std' must be a positive number or a non-empty list of them, got \[1,0\]/],
    [{ preprocess: { mean: 'imagenet' } }, /'preprocess\.mean' must be a number or a non-empty list of them, got "imagenet"/],
    [{ preprocess: { size: [1, 2, 3] } }, /'preprocess\.size' must be an integer, \[height, width\], \{height, width\} or \{shortest_edge\}/],
    [{ preprocess: { crop: { shortest_edge: 4 } } }, /'preprocess\.crop' must be an integer, \[height, width\], \{height, width\}, got/],
    [{ preprocess: { channels: 2 } }, /'preprocess\.channels' must be 1 or 3, got 2/],
    [{ preprocess: { normalise: true } }, /'preprocess\.normalise' is not a known field/],
  ])('refuses %j, naming the file and the field', (json, message) => {
    expect(() => parseModelConfig(FILE, json)).toThrow(message);
    expect(() => parseModelConfig(FILE, json)).toThrow(/^repo\/m\/vitlin\.json/);
  });
});

describe('configuredImageRecipe', () => {
  const pre = (fields: Partial<PreprocessingConfig>): PreprocessingConfig => ({ layout: 'NCHW', resample: 2, rescale: 1 / 255, normalize: { mean: [0.5], std: [0.5] }, defaulted: [], ...fields });

  it.each([
    ['NCHW, fixed size', pre({}), [1, 3, 32, 32], { channels: 3, resize: { height: 32, width: 32 } }],
    ['NHWC, fixed size', pre({ layout: 'NHWC' }), [1, 24, 32, 1], { channels: 1, resize: { height: 24, width: 32 } }],
    ['dynamic size, size and channels from the config', pre({ size: { shortestEdge: 40 }, crop: { height: 32, width: 32 }, channels: 1 }), ['n', 'c', 'h', 'w'],
      { channels: 1, resize: { shortestEdge: 40 }, crop: { height: 32, width: 32 } }],
  ])('%s', (_name, config, shape, expected) => {
    expect(configuredImageRecipe(config, shape, FILE)).toMatchObject({ ...expected, resample: 2, rescaleFactor: 1 / 255, normalize: { mean: [0.5], std: [0.5] } });
  });

  it('leaves out the rescale and the normalisation when the config turns them off', () => {
    const { normalize: _, ...unnormalised } = pre({ rescale: false });
    const recipe = configuredImageRecipe(unnormalised, [1, 3, 8, 8], FILE);
    expect(recipe).not.toHaveProperty('rescaleFactor');
    expect(recipe).not.toHaveProperty('normalize');
  });

  it.each([
    ['a rank-3 input', pre({}), [3, 32, 32], /'preprocess\.layout' needs an image input of rank 4/],
    ['channels that disagree', pre({ channels: 1 }), [1, 3, 32, 32], /'preprocess\.channels' is 1, the model's NCHW input \[1, 3, 32, 32\] has 3/],
    ['a layout that gives 32 channels', pre({ layout: 'NHWC' }), [1, 3, 32, 32], /'preprocess\.layout' gives 32 channels .* \(is the layout right\?\)/],
    ['no size for a dynamic input', pre({}), [1, 3, 'h', 'w'], /'preprocess\.size' is needed: the model's input \[1, 3, h, w\] has no fixed height and width/],
    ['a crop the model does not take', pre({ size: { height: 40, width: 40 }, crop: { height: 30, width: 30 } }), [1, 3, 32, 32], /'preprocess\.crop' gives 30×30 images, the model takes 32×32/],
    ['a mean per channel for the wrong channels', pre({ normalize: { mean: [0.1, 0.2], std: [0.5] } }), [1, 3, 32, 32], /'preprocess\.mean' has 2 values, the model takes 3 channel\(s\)/],
  ])('refuses %s', (_name, config, shape, message) => {
    expect(() => configuredImageRecipe(config, shape as (number | string)[], FILE)).toThrow(message);
  });
});
