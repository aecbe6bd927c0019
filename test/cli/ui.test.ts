/** The CLI's step display: the current step and its time on a TTY, after a short delay; nothing on a pipe. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stepProgress } from '../../src/cli/ui.js';

/** A stand-in for process.stderr that records what is written. */
function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, columns: 80, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

describe('stepProgress', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('on a TTY shows the current step with its elapsed time once the command lasts, then erases the line', () => {
    const tty = stream(true);
    const steps = stepProgress('convert', ['load', 'rewrite', 'write', 'check'], tty);
    steps.step('load');
    expect(tty.text).toBe(''); // short commands never flash a line
    vi.advanceTimersByTime(1_000);
    expect(tty.text).toContain('convert [1/4] load 1.0 s');
    steps.step('rewrite');
    vi.advanceTimersByTime(2_000);
    expect(tty.text).toContain('convert [2/4] rewrite 2.0 s');
    steps.step('check');
    expect(tty.text).toContain('convert [4/4] check 0.0 s');
    steps.done();
    expect(tty.text.endsWith('\r\x1b[K')).toBe(true);
    const written = tty.text.length;
    vi.advanceTimersByTime(1_000);
    expect(tty.text.length).toBe(written); // the timer is gone
  });

  it('writes nothing when the stream is not a TTY (pipes, logs, tests)', () => {
    const pipe = stream(false);
    const steps = stepProgress('convert', ['load', 'write'], pipe);
    steps.step('load');
    vi.advanceTimersByTime(5_000);
    steps.step('write');
    steps.done();
    expect(pipe.text).toBe('');
  });
});
