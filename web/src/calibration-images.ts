/**
 * The images the user gives to fit on — dropped on the page or chosen with the button — decoded in the
 * browser; unlabelled, so they only ever fit (the sample's images select and score). And the wiring of
 * the calibration controls.
 */
import type { DroppedRaw } from './calibration-run.js';
import { renderDropped } from './calibration-view.js';
import { byId, clearMessage, errorText, showMessage } from './dom.js';
import { decodeImageFile } from './image-source.js';

let dropped: DroppedRaw | undefined;

/** The images to fit on, if the user gave any. */
export const droppedImages = (): DroppedRaw | undefined => dropped;

/** Adds image files to fit on; a file the browser cannot decode gets one clear message and adds nothing. */
export async function addCalibrationImages(files: readonly File[], onChange: () => void): Promise<void> {
  clearMessage();
  try {
    const images = await Promise.all(files.map(decodeImageFile));
    dropped = { names: [...(dropped?.names ?? []), ...files.map((f) => f.name)], images: [...(dropped?.images ?? []), ...images] };
  } catch (error) {
    showMessage('error', `Could not use the images for calibration: ${errorText(error)}`);
  }
  renderDropped(dropped);
  onChange();
}

/** Wires the calibration controls: `onChange` whenever what fits, selects or scores changes. */
export function wireCalibrationControls(onChange: () => void, onCancel: () => void): void {
  const files = byId<HTMLInputElement>('calibration-files');
  files.addEventListener('change', () => {
    const chosen = [...(files.files ?? [])];
    files.value = ''; // choosing the same files again still fires 'change'
    if (chosen.length) void addCalibrationImages(chosen, onChange);
  });
  byId('calibration-clear').addEventListener('click', () => {
    dropped = undefined;
    renderDropped(dropped);
    onChange();
  });
  for (const id of ['calibration-controls', 'block-choice']) byId(id).addEventListener('change', onChange);
  byId('calibration-count').addEventListener('input', onChange);
  byId('convert-cancel').addEventListener('click', onCancel);
}
