/**
 * Untrusted strings rendered by a template (message contents; later tool definitions) are swapped for unique
 * placeholders before rendering, then the rendered text is split back into trusted markup and the original
 * untrusted strings, so the encoder can treat each kind as it must.
 */
import type { PromptSegment } from './prompt-encoding.ts';

/**
 * Letters and digits only (template filters such as `trim` strip some symbols), made unique by a random nonce, so
 * neither the template nor a caller's data can produce one.
 */
const OPEN = 'UNMASKPH';
const CLOSE = 'Z';

export class Placeholders {
  private readonly values: string[] = [];
  private readonly nonce = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');

  /** The placeholder for `value` (an empty string stays empty: templates test contents for emptiness). */
  wrap(value: string): string {
    if (value === '') return '';
    this.values.push(value);
    return `${OPEN}${this.nonce}N${this.values.length - 1}${CLOSE}`;
  }

  /** The rendered text as markup and untrusted segments, in order (a value may appear any number of times). */
  segments(rendered: string): PromptSegment[] {
    const out: PromptSegment[] = [];
    const pattern = new RegExp(`${OPEN}${this.nonce}N(\\d+)${CLOSE}`, 'g');
    let at = 0;
    for (const m of rendered.matchAll(pattern)) {
      if (m.index > at) out.push({ text: rendered.slice(at, m.index), untrusted: false });
      out.push({ text: this.values[Number(m[1])], untrusted: true });
      at = m.index + m[0].length;
    }
    if (at < rendered.length) out.push({ text: rendered.slice(at), untrusted: false });
    return out;
  }
}
