/**
 * The usual labelled-images layout: one subfolder per class (`root/<class>/<image>`), as torchvision's
 * ImageFolder and most datasets ship it. A class's label is its index in the model's `id2label` when
 * the model folder has one (names matched exactly, then ignoring case and anything but letters and digits), a subfolder
 * named by an integer is that index, and otherwise classes are numbered in sorted order.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, VitlinIoError } from '../../graph-rewrite/errors.js';

export interface ClassFolderListing {
  /**
   * Image paths relative to the root (`<class>/<file>`), interleaved: the first image of each class,
   * then the second of each, … — so that any first n images (a --calibration-count, the fitting part of
   * a split) cover the classes evenly.
   */
  readonly files: readonly string[];
  readonly labels: readonly number[];
  /** Class names by label: the model's id2label, or the subfolders' names in sorted order. */
  readonly classes: readonly string[];
}

function entries(folder: string): string[] {
  try {
    return readdirSync(folder).sort();
  } catch (cause) {
    throw new VitlinIoError(`${folder}: cannot read the folder: ${(cause as Error).message}`, { cause });
  }
}

const squash = (name: string) => name.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');

/** The class subfolders of `root` holding images (`isImage` picks the files), or undefined when there are none. */
export function listClassFolders(root: string, isImage: (file: string) => boolean, id2label?: readonly string[]): ClassFolderListing | undefined {
  const subfolders = entries(root).filter((name) => !name.startsWith('.') && statSync(join(root, name)).isDirectory());
  const withImages = subfolders.map((name) => ({ name, files: entries(join(root, name)).filter((f) => isImage(f) && statSync(join(root, name, f)).isFile()) }))
    .filter((c) => c.files.length > 0);
  if (withImages.length === 0) return undefined;
  const labelOf = (name: string, sortedIndex: number): number => {
    if (id2label?.length) {
      let at = id2label.indexOf(name);
      if (at < 0) at = id2label.findIndex((label) => squash(label) === squash(name));
      if (at < 0 && /^\d+$/.test(name) && Number(name) < id2label.length) at = Number(name);
      if (at < 0) throw new InvalidArgumentError(`${join(root, name)}: class folder '${name}' matches no label of the model's id2label (${id2label.slice(0, 5).join(', ')}${id2label.length > 5 ? ', …' : ''})`);
      return at;
    }
    return /^\d+$/.test(name) && withImages.every((c) => /^\d+$/.test(c.name)) ? Number(name) : sortedIndex;
  };
  const files: string[] = [];
  const labels: number[] = [];
  const classLabels = withImages.map((c, i) => labelOf(c.name, i));
  const longest = Math.max(...withImages.map((c) => c.files.length));
  for (let k = 0; k < longest; k++) {
    withImages.forEach((c, i) => {
      if (k >= c.files.length) return;
      files.push(join(c.name, c.files[k]!));
      labels.push(classLabels[i]!);
    });
  }
  return { files, labels, classes: id2label?.length ? id2label : withImages.map((c) => c.name) };
}
