/** A config file, or one field of it, is unreadable or invalid: the message names the file and the field, so the user can fix the file alone. */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';

export class ConfigFileError extends InvalidArgumentError {
  readonly file: string;
  readonly field: string | undefined;
  constructor(file: string, field: string | undefined, why: string) {
    super(`${file}${field === undefined ? '' : `: '${field}'`} ${why}`);
    this.file = file;
    this.field = field;
  }
}
