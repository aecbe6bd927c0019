/** Small DOM helpers: typed lookups, element building, the page's message line. */

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

type Child = Node | string | null | undefined | false;

/** `el('td', { className: 'yes' }, 'text', child…)`. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K, props: Partial<HTMLElementTagNameMap[K]> & { dataset?: Record<string, string> } = {}, ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(element, rest);
  if (dataset) Object.assign(element.dataset, dataset);
  for (const child of children) if (child !== null && child !== undefined && child !== false) element.append(child);
  return element;
}

/** Shows one message above the page (an error or an info line), or hides it. */
export function showMessage(kind: 'error' | 'info', text: string): void {
  const box = byId('message');
  box.className = kind;
  box.textContent = text;
  box.hidden = false;
}

export function clearMessage(): void {
  const box = byId('message');
  box.hidden = true;
  box.textContent = '';
}

/** The message of anything thrown: vitlin's errors already name the file and the problem. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs `task` with `button` disabled, so a slow step cannot be started twice. */
export async function busy<T>(button: HTMLButtonElement, task: () => Promise<T>): Promise<T> {
  button.disabled = true;
  try {
    return await task();
  } finally {
    button.disabled = false;
  }
}
