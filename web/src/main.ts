/**
 * The vitlin web app: open an ONNX ViT (file, drop, or bundled fixture), see its attention blocks,
 * convert them to Hydra / linear-angular in the page, run original and converted on onnxruntime-web
 * (WebGPU, else WASM with a notice), and download the converted model. Everything runs locally.
 *
 * URL parameters: ?fixture=<name> opens a fixture on load; ?ortlog=verbose prints onnxruntime's log
 * (node placement) to the console and shows placement per model; ?maxModelBytes=<n> caps model size.
 */
import {
  configureWebRuntime, DEFAULT_MAX_MODEL_BYTES, formatBytes, formatConversion, modelToBlob, modelToBytes, ort, readModelBytes,
  webGpuUnavailableReason, type Model, type WebEpChoice,
} from '../../src/web/index.js';
import { fetchFixture, loadFixtures, loadSample, type Fixtures, type Sample } from './assets.js';
import { renderBlocks, selectedAttention, selectedBlocks } from './blocks-view.js';
import { busy, byId, clearMessage, el, errorText, showMessage } from './dom.js';
import { currentImage, decodeUpload, prepareInput } from './image-source.js';
import { imageInputOf, renderModelInfo, type ImageInput } from './model-view.js';
import { renderAccuracy, renderAccuracyState, scoreOnSample, type SampleScore } from './accuracy-view.js';
import { renderConverted, renderPlan } from './plan-view.js';
import { CONVERT_MODE, convert as convertModel, findBlocks } from './rewriter.js';
import {
  releaseSessions, renderComparison, renderFallback, renderOutcome, renderPlaceholder, renderRunning, runModel, RunCancelled, STEPS_PER_MODEL,
  watchPlacementLogs, type RunControl, type RunOutcome, type Which,
} from './run-view.js';

const params = new URLSearchParams(location.search);
const maxModelBytes = Number(params.get('maxModelBytes') ?? DEFAULT_MAX_MODEL_BYTES);

interface Opened {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly model: Model;
  readonly input: ImageInput | string;
}

let fixtures: Fixtures | undefined;
let sample: Sample | undefined;
let opened: Opened | undefined;
let converted: { bytes: Uint8Array; url: string; label: string } | undefined;

async function start(): Promise<void> {
  const verbose = params.get('ortlog') === 'verbose';
  if (verbose) watchPlacementLogs();
  const runtime = configureWebRuntime({ wasmPaths: new URL('ort/', document.baseURI).href, logLevel: verbose ? 'verbose' : 'warning' });
  const gpu = await webGpuUnavailableReason();
  byId('runtime-status').textContent = `onnxruntime-web ${ort.env.versions.web ?? ''} · WebGPU: ${gpu ? `unavailable (${gpu})` : 'available'}` +
    ` · WASM: ${runtime.wasmThreads} thread${runtime.wasmThreads > 1 ? 's' : ''}` +
    `${runtime.crossOriginIsolated ? ' (cross-origin isolated)' : ' (not cross-origin isolated: single-threaded)'}`;
  fixtures = await loadFixtures();
  sample = await loadSample(fixtures);
  const select = byId<HTMLSelectElement>('fixture-select');
  select.replaceChildren(...fixtures.models.map((m) => el('option', { value: m.name, title: m.description },
    `${m.name}${m.trained ? ' (trained)' : ''} · ${formatBytes(m.bytes)}`)));
  byId<HTMLInputElement>('sample-index').max = String(sample.parsed.header.count - 1);
  wire();
  document.body.dataset.ready = 'true';
  const initial = params.get('fixture');
  if (initial) {
    select.value = initial;
    await openFixture();
  }
}

/** Opens a model; on any failure the message says why and the previously opened model stays. */
async function openModel(name: string, read: () => Promise<Uint8Array>): Promise<void> {
  clearMessage();
  let bytes: Uint8Array;
  let model: Model;
  try {
    bytes = await read();
    model = readModelBytes(bytes, { source: name, maxBytes: maxModelBytes });
  } catch (error) {
    showMessage('error', `Could not open ${name}: ${errorText(error)}`);
    return;
  }
  await releaseSessions();
  resetConversion();
  opened = { name, bytes, model, input: imageInputOf(model) };
  renderModelInfo(name, bytes.length, model);
  showBlocks(model);
  showRunSection();
}

function showBlocks(model: Model): void {
  byId('blocks-section').hidden = false;
  const { rows, blocks, convertible } = findBlocks(model);
  renderBlocks(rows);
  showPlan();
  byId<HTMLButtonElement>('convert-button').disabled = convertible === 0;
  byId('convert-status').textContent = blocks === 0 ? '' : `${blocks} attention block${blocks > 1 ? 's' : ''}, ${convertible} convertible.`;
  const name = opened!.name;
  if (rows.length === 0) {
    showMessage('info', `${name} has no attention blocks: there is nothing to convert (you can still run it).`);
  } else if (blocks === 0) {
    showMessage('info', `${name}: none of its attention ops is a block vitlin recognises (see the table for why); nothing to convert.`);
  } else if (convertible === 0) {
    showMessage('info', `${name}: none of its ${blocks} attention blocks can be converted (see the table for why).`);
  }
}

/** The plan for the current checkboxes and op: what each block gets and the FLOPs it would save. */
function showPlan(): void {
  if (!opened) return;
  const rows = findBlocks(opened.model).rows.flatMap((row) => (row.index === undefined ? [] : [{ index: row.index, convertible: row.convertible, ...(row.reason ? { reason: row.reason } : {}) }]));
  if (rows.length === 0) {
    byId('plan').replaceChildren();
    return;
  }
  renderPlan(opened.model, rows, selectedBlocks(), selectedAttention());
}

function showRunSection(): void {
  byId('run-section').hidden = false;
  const run = byId<HTMLButtonElement>('run-button');
  run.disabled = typeof opened?.input === 'string';
  renderPlaceholder('original', typeof opened?.input === 'string' ? `Cannot run here: ${opened.input}.` : 'not run yet');
  renderPlaceholder('converted', 'convert the model first');
  renderComparison(undefined, undefined);
  renderFallback([]);
  renderAccuracyState('One image is an anecdote: this runs each model on many labelled images.', 'idle');
}

function resetConversion(): void {
  if (converted) URL.revokeObjectURL(converted.url);
  converted = undefined;
  byId('download-link').hidden = true;
  byId('convert-report').hidden = true;
}

async function convert(): Promise<void> {
  if (!opened) return;
  clearMessage();
  const blocks = selectedBlocks();
  if (blocks.length === 0) {
    showMessage('error', 'Select at least one convertible attention block to convert.');
    return;
  }
  const attention = selectedAttention();
  try {
    const outcome = await convertModel(opened.model, attention, blocks);
    const { model, converted: done, skipped, fusion, unrecognised } = outcome;
    // As `vitlin convert` does: Softmax nodes no rule recognised are listed, never hidden.
    if (done.length === 0) {
      showMessage('error', `Nothing was converted: ${[...skipped.map((s) => s.reason), ...unrecognised.map((u) => `unrecognised: ${u.reason}`)].join('; ')}`);
      return;
    }
    const bytes = modelToBytes(model);
    resetConversion();
    await releaseSessions('converted');
    const stem = opened.name.replace(/\.onnx$/i, '');
    converted = { bytes, url: URL.createObjectURL(modelToBlob(model)), label: `${stem}.${attention}.onnx` };
    const link = byId<HTMLAnchorElement>('download-link');
    link.href = converted.url;
    link.download = converted.label;
    link.hidden = false;
    byId('convert-status').textContent = `Converted block${done.length > 1 ? 's' : ''} ${done.map((b) => b.index).join(', ')} to ${attention}` +
      `${skipped.length ? ` (skipped: ${skipped.map((s) => s.reason).join('; ')})` : ''}` +
      `${fusion.fused.length ? `, fused ${fusion.fused.length} decomposed block${fusion.fused.length > 1 ? 's' : ''} exactly` : ''}: ` +
      `${formatBytes(opened.bytes.length)} → ${formatBytes(bytes.length)}.`;
    const report = byId('convert-report');
    report.textContent = formatConversion(outcome, attention, CONVERT_MODE).join('\n');
    report.hidden = false;
    renderPlaceholder('converted', 'not run yet');
    renderComparison(undefined, undefined);
    renderAccuracyState('The model changed: measure again.', 'idle');
    renderConverted(done.map((b) => b.index), skipped.map((s) => ({ index: s.index, reason: s.reason })), attention);
  } catch (error) {
    showMessage('error', `Conversion failed: ${errorText(error)}`);
  }
}

/** The run in progress, if any: Cancel sets its flag. */
let activeRun: RunControl | undefined;

/**
 * Runs the original (and the converted model, when there is one) on the chosen image. From the click on,
 * the cards say what is happening with a progress bar, Cancel stops between steps, and no result of an
 * earlier run stays on screen — not while this one runs, and not after it fails.
 */
async function run(): Promise<void> {
  if (!opened || typeof opened.input === 'string' || !sample) return;
  clearMessage();
  const input = opened.input;
  const ep = byId<HTMLSelectElement>('ep-select').value as WebEpChoice;
  const cards: Which[] = converted ? ['original', 'converted'] : ['original'];
  const total = cards.length * STEPS_PER_MODEL;
  let done = 0;
  const control: RunControl = {
    cancelled: false,
    onStep(which, text) {
      renderRunning(which, text, done++, total);
    },
  };
  activeRun = control;
  for (const which of cards) renderRunning(which, which === cards[0] ? 'starting' : 'waiting for the original', 0, total);
  renderComparison(undefined, undefined);
  renderFallback([]);
  const cancel = byId<HTMLButtonElement>('cancel-button');
  cancel.hidden = false;
  try {
    const chosen = currentImage(sample);
    const { mean, std } = sample.parsed.header.normalization;
    const invert = byId<HTMLInputElement>('invert').checked;
    const pixels = prepareInput(chosen, { channels: input.channels, height: input.height, width: input.width, mean, std, invert });
    const classes = sample.parsed.header.classes;
    const original = await runModel('original', opened.bytes, opened.name, ep, input, pixels, control);
    renderOutcome('original', original, classes, chosen.trueClass);
    let second: RunOutcome | undefined;
    if (converted) {
      second = await runModel('converted', converted.bytes, converted.label, ep, input, pixels, control);
      renderOutcome('converted', second, classes, chosen.trueClass);
    }
    renderComparison(original, second);
    renderFallback([original, second].flatMap((outcome, i) =>
      outcome?.fallbackReason ? [{ which: i === 0 ? 'original' as const : 'converted' as const, reason: outcome.fallbackReason }] : []));
  } catch (error) {
    const cancelled = error instanceof RunCancelled;
    // Whatever this run had shown goes: a half-finished comparison is not a result.
    for (const which of cards) renderPlaceholder(which, cancelled ? 'cancelled' : 'failed (see the message above)', cancelled ? 'cancelled' : 'failed');
    renderComparison(undefined, undefined);
    if (cancelled) showMessage('info', 'Run cancelled.');
    else showMessage('error', `Run failed: ${errorText(error)}`);
  } finally {
    if (activeRun === control) activeRun = undefined;
    cancel.hidden = true;
  }
}

/** Accuracy of the original (and converted) model on the first n labelled sample images, with progress and Cancel. */
async function measureAccuracy(): Promise<void> {
  if (!opened || typeof opened.input === 'string' || !sample) return;
  clearMessage();
  const input = opened.input;
  const ep = byId<HTMLSelectElement>('ep-select').value as WebEpChoice;
  const limit = sample.parsed.header.count;
  const count = Number(byId<HTMLInputElement>('accuracy-count').value);
  if (!Number.isInteger(count) || count < 1 || count > limit) {
    showMessage('error', `The number of images must be a whole number from 1 to ${limit}.`);
    return;
  }
  const models = converted ? 2 : 1;
  const control = {
    cancelled: false,
    onStep() {},
    onImage(which: Which, done: number) {
      renderAccuracyState(`${which} model: image ${done} of ${count}`, 'running', (which === 'original' ? 0 : count) + done, models * count);
    },
  };
  activeRun = control;
  renderAccuracyState('starting', 'running', 0, models * count);
  const cancel = byId<HTMLButtonElement>('cancel-button');
  cancel.hidden = false;
  try {
    const original = await scoreOnSample('original', opened.bytes, opened.name, ep, input, sample, count, control);
    let second: SampleScore | undefined;
    if (converted) second = await scoreOnSample('converted', converted.bytes, converted.label, ep, input, sample, count, control);
    renderAccuracy(original, second);
  } catch (error) {
    const cancelled = error instanceof RunCancelled;
    renderAccuracyState(cancelled ? 'cancelled' : 'failed (see the message above)', cancelled ? 'cancelled' : 'failed');
    if (cancelled) showMessage('info', 'Accuracy measurement cancelled.');
    else showMessage('error', `Accuracy measurement failed: ${errorText(error)}`);
  } finally {
    if (activeRun === control) activeRun = undefined;
    cancel.hidden = true;
  }
}

async function openFixture(): Promise<void> {
  const entry = fixtures?.models.find((m) => m.name === byId<HTMLSelectElement>('fixture-select').value);
  if (entry) await openModel(`${entry.name}.onnx`, () => fetchFixture(entry));
}

function openFile(file: File | undefined): void {
  if (file) void openModel(file.name, async () => new Uint8Array(await file.arrayBuffer()));
}

function wire(): void {
  const fixtureButton = byId<HTMLButtonElement>('fixture-open');
  fixtureButton.addEventListener('click', () => void busy(fixtureButton, openFixture));
  const fileInput = byId<HTMLInputElement>('model-file');
  fileInput.addEventListener('change', () => {
    openFile(fileInput.files?.[0]);
    fileInput.value = ''; // choosing the same file again still fires 'change'
  });
  const zone = byId('drop-zone');
  // The whole window accepts drops: a file dropped beside the zone must not navigate away from the app.
  window.addEventListener('dragover', (event) => { event.preventDefault(); zone.classList.add('dragging'); });
  window.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  window.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    openFile(event.dataTransfer?.files[0]);
  });
  const convertButton = byId<HTMLButtonElement>('convert-button');
  convertButton.addEventListener('click', () => void busy(convertButton, convert));
  const runButton = byId<HTMLButtonElement>('run-button');
  runButton.addEventListener('click', () => void busy(runButton, run));
  const accuracyButton = byId<HTMLButtonElement>('accuracy-button');
  accuracyButton.addEventListener('click', () => void busy(accuracyButton, measureAccuracy));
  byId('blocks-table').addEventListener('change', showPlan);
  for (const radio of document.querySelectorAll('input[name="attention"]')) radio.addEventListener('change', showPlan);
  byId('cancel-button').addEventListener('click', () => {
    if (activeRun) activeRun.cancelled = true;
  });
  byId('sample-random').addEventListener('click', () => {
    byId<HTMLInputElement>('sample-index').value = String(Math.floor(Math.random() * (sample?.parsed.header.count ?? 1)));
    (document.querySelector('input[name="image-source"][value="sample"]') as HTMLInputElement).checked = true;
  });
  const imageFile = byId<HTMLInputElement>('image-file');
  imageFile.addEventListener('change', () => {
    const file = imageFile.files?.[0];
    if (!file) return;
    clearMessage();
    decodeUpload(file).then(() => {
      (document.querySelector('input[name="image-source"][value="upload"]') as HTMLInputElement).checked = true;
      byId('image-label').textContent = file.name;
    }, (error: unknown) => showMessage('error', errorText(error)));
  });
}

start().catch((error: unknown) => showMessage('error', `The app could not start: ${errorText(error)}`));
