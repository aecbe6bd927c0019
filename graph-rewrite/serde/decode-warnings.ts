/** What the decoder tolerates but reports: options and the per-kind tally. */

export interface DecodeOptions {
  /** Prefixes every error and warning message (e.g. the file name). */
  source?: string;
  /**
   * Told about what protobuf accepts but a careful reader should know (strings that are not UTF-8, known
   * fields with another wire type, an unusual IR version): the model still means the same and re-saves
   * byte for byte. One call per kind, with a count and the first place.
   */
  onWarning?: (message: string) => void;
}

/** Tolerated oddities, per kind: how many, and the first one's place. */
export class DecodeWarnings {
  private readonly kinds = new Map<string, { count: number; first: string }>();

  add(kind: string, first: string): void {
    const seen = this.kinds.get(kind);
    if (seen === undefined) this.kinds.set(kind, { count: 1, first });
    else seen.count++;
  }

  report(source: string, onWarning: ((message: string) => void) | undefined): void {
    if (onWarning === undefined) return;
    for (const [kind, { count, first }] of this.kinds) {
      onWarning(`${source}: ${count === 1 ? kind.replaceAll('{s}', '') : `${count} ${kind.replaceAll('{s}', 's')}`} (${count === 1 ? '' : 'first '}${first})`);
    }
  }
}
