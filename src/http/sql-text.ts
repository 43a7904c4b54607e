/**
 * A statement's text and its values built side by side, for a hot list whose SQL is written out rather
 * than built by knex (knex's builder and compiler cost more per request than the rest of the list's
 * Node work). Fragments use `?` for a value, as knex.raw does; `add` numbers them $1, $2, … in order.
 * No fragment may hold a `?` of its own (the jsonb operators): none of these lists uses one.
 */
export class SqlText {
  readonly values: unknown[] = [];

  /** The fragment with each `?` replaced by the next numbered parameter carrying the next value. */
  add(fragment: string, ...values: unknown[]): string {
    let k = 0;
    const out = fragment.replace(/\?/g, () => {
      if (k >= values.length) throw new Error(`SQL fragment has more ? than values: ${fragment}`);
      this.values.push(values[k++]);
      return `$${this.values.length}`;
    });
    if (k !== values.length) throw new Error(`SQL fragment has fewer ? than values: ${fragment}`);
    return out;
  }
}
