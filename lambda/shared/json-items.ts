/**
 * Reads the items of one array member of a JSON object (`{"data": [item, item, ...], ...}`) as the bytes arrive, so
 * an answer far larger than memory can be read: only one item's bytes are held at a time, and each is handed over
 * parsed (`JSON.parse` of that item alone) for the caller to keep what it needs. Everything outside the items is
 * checked byte by byte (strings and escapes, numbers, literals, nesting); the items are checked by `JSON.parse`. A
 * document that is not valid JSON, or whose array is missing or not an array, fails; the caller must treat the items
 * already handed over as void unless `end()` returns normally.
 */

export type JsonItemsErrorKind = 'syntax' | 'shape' | 'size';

export class JsonItemsError extends Error {
  constructor(
    readonly kind: JsonItemsErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'JsonItemsError';
  }
}

export interface JsonItemsOptions {
  /** The member of the top-level object that holds the array. */
  readonly key: string;
  /** Each item, parsed, in order. */
  readonly onItem: (item: unknown) => void;
  /** One item larger than this fails the read ('size'). */
  readonly maxItemBytes: number;
}

// Character codes.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const enum S {
  /** A value is due (document start, after ':' or after ',' in an array). */
  Value,
  /** After '[': a value or ']'. */
  ValueOrClose,
  /** After '{': a key or '}'. */
  KeyOrClose,
  /** After ',' in an object. */
  Key,
  Colon,
  /** After a value inside a container. */
  CommaOrClose,
  /** After the top-level value: whitespace only. */
  Done,
  String,
  StringEscape,
  StringUnicode,
  Number,
  Literal,
  /** Inside one item of the array, which is being captured. */
  Item,
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const startsValue = (c: number) =>
  c === OPEN_BRACE ||
  c === OPEN_BRACKET ||
  c === QUOTE ||
  c === 0x2d ||
  isDigit(c) ||
  c === 0x74 ||
  c === 0x66 ||
  c === 0x6e;
const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
/** The top-level keys are compared decoded, as JSON.parse would; longer ones cannot be the one looked for. */
const MAX_KEY_BYTES = 1024;
const MAX_DEPTH = 512;

export class JsonArrayItems {
  /** Items handed over so far. */
  items = 0;
  /** Bytes read so far. */
  bytes = 0;
  private state = S.Value;
  /** Open containers outside the items: true for an object. */
  private readonly stack: boolean[] = [];
  /** The state to return to once a string, number or literal ends. */
  private after = S.Done;
  private unicodeLeft = 0;
  private literal = '';
  private literalAt = 0;
  /** Number grammar: 0 sign, 1 int first, 2 int more, 3 after '0', 4 frac first, 5 frac more, 6 exp sign, 7 exp first, 8 exp more. */
  private numberState = 0;
  /** A top-level key's raw bytes while it is read (undefined once too long to matter). */
  private key?: number[];
  private keyIsTarget = false;
  private found = false;
  /** The array is open: its items are at `stack.length === 2`. */
  private inArray = false;
  // The item being captured.
  private itemParts: Buffer[] = [];
  private itemBytes = 0;
  private itemDepth = 0;
  private itemInString = false;
  private itemEscape = false;
  /** A string, number or literal item ends differently from an object or array. */
  private itemKind: 'container' | 'string' | 'scalar' = 'container';
  /** Where the item being captured starts in the chunk being read (0: it began in an earlier one; -1: none). */
  private itemStart = -1;

  constructor(private readonly o: JsonItemsOptions) {}

  push(chunk: Buffer): void {
    const n = chunk.length;
    this.itemStart = this.state === S.Item ? 0 : -1;
    let i = 0;
    while (i < n) i = this.step(chunk, i);
    // An item that goes on into the next chunk: what this one holds of it.
    if (this.state === S.Item && this.itemStart >= 0 && this.itemStart < n)
      this.hold(chunk.subarray(this.itemStart, n));
    this.bytes += n;
  }

  /** Reads on from `chunk[i]` in the current state: the index of the next byte to read. */
  private step(chunk: Buffer, i: number): number {
    const c = chunk[i];
    switch (this.state) {
      case S.Item:
        return this.stepItem(chunk, i);
      case S.Value:
      case S.ValueOrClose:
        return this.stepValue(c, i);
      case S.KeyOrClose:
      case S.Key:
      case S.Colon:
      case S.CommaOrClose:
      case S.Done:
        return this.stepBetween(c, i);
      case S.String:
        return this.stepString(c, i);
      case S.StringEscape:
      case S.StringUnicode:
        return this.stepEscape(c, i);
      case S.Number:
        if (this.number(c)) return i + 1;
        this.endNumber(i, c);
        return i;
      case S.Literal:
        if (c !== this.literal.charCodeAt(this.literalAt)) throw this.syntax(i, c, `"${this.literal}"`);
        if (++this.literalAt === this.literal.length) this.state = this.afterValue();
        return i + 1;
    }
  }

  /** Inside an item: to its end, where it is parsed and handed over, or to the end of the chunk. */
  private stepItem(chunk: Buffer, i: number): number {
    const end = this.scanItem(chunk, i);
    if (end < 0) return chunk.length;
    this.hold(chunk.subarray(this.itemStart, end));
    this.itemStart = -1;
    this.emit(end);
    this.state = S.CommaOrClose;
    return end;
  }

  /** A value is due: an item when it is one of the array's, else a value outside the items. */
  private stepValue(c: number, i: number): number {
    if (isSpace(c)) return i + 1;
    if (this.state === S.ValueOrClose && c === CLOSE_BRACKET) {
      this.close(false, i);
      return i + 1;
    }
    if (this.inArray && this.stack.length === 2) {
      if (!startsValue(c)) throw this.syntax(i, c, 'a value');
      // An item starts: captured whole, then parsed alone.
      this.itemStart = i;
      this.startItem(c);
      this.state = S.Item;
      // A number or literal item is scanned from its first byte on.
      return this.itemKind === 'scalar' ? i : i + 1;
    }
    this.startValue(c, i);
    return i + 1;
  }

  /** Between tokens: whitespace, a key, ':', ',', a closing bracket, or the end of the document. */
  private stepBetween(c: number, i: number): number {
    if (isSpace(c)) return i + 1;
    switch (this.state) {
      case S.KeyOrClose:
      case S.Key:
        if (this.state === S.KeyOrClose && c === CLOSE_BRACE) this.close(true, i);
        else if (c === QUOTE) {
          this.key = this.stack.length === 1 ? [] : undefined;
          this.after = S.Colon;
          this.state = S.String;
        } else throw this.syntax(i, c, 'a key');
        return i + 1;
      case S.Colon:
        if (c !== COLON) throw this.syntax(i, c, "':'");
        this.state = S.Value;
        return i + 1;
      case S.CommaOrClose:
        if (c === COMMA) this.state = this.stack[this.stack.length - 1] ? S.Key : S.Value;
        else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) this.close(c === CLOSE_BRACE, i);
        else throw this.syntax(i, c, "',' or a closing bracket");
        return i + 1;
      default:
        throw this.syntax(i, c, 'the end of the answer');
    }
  }

  /** Inside a string outside the items (a top-level key's bytes are kept to compare). */
  private stepString(c: number, i: number): number {
    if (c === QUOTE) {
      this.endString();
    } else if (c === BACKSLASH) {
      this.state = S.StringEscape;
      this.key?.push(c);
    } else if (c < 0x20) throw this.syntax(i, c, 'a string character');
    else if (this.key) {
      this.key.push(c);
      if (this.key.length > MAX_KEY_BYTES) this.key = undefined;
    }
    return i + 1;
  }

  /** After a backslash in such a string: one escape character, or `u` and four hex digits. */
  private stepEscape(c: number, i: number): number {
    if (this.state === S.StringUnicode) {
      if (!isHex(c)) throw this.syntax(i, c, 'a hex digit');
      if (--this.unicodeLeft === 0) this.state = S.String;
    } else if (c === 0x75) {
      this.state = S.StringUnicode;
      this.unicodeLeft = 4;
    } else if ('"\\/bfnrt'.includes(String.fromCharCode(c))) this.state = S.String;
    else throw this.syntax(i, c, 'an escape');
    this.key?.push(c);
    return i + 1;
  }

  /** The answer is over: throws unless it was one whole JSON value holding the array. */
  end(): void {
    if (this.state === S.Number) this.endNumber(0, -1);
    if (this.state !== S.Done) {
      throw new JsonItemsError(
        'syntax',
        this.bytes === 0 ? 'empty answer' : `the JSON ends early, after ${this.bytes} bytes`,
      );
    }
    if (!this.found) throw new JsonItemsError('shape', `no "${this.o.key}" member`);
  }

  private startValue(c: number, i: number): void {
    // Checked as JSON first: a broken answer is named as such.
    if (!startsValue(c)) throw this.syntax(i, c, 'a value');
    if (this.stack.length === 0 && c !== OPEN_BRACE)
      throw new JsonItemsError('shape', 'the answer is not a JSON object');
    if (this.keyIsTarget) {
      this.keyIsTarget = false;
      if (c !== OPEN_BRACKET) throw new JsonItemsError('shape', `"${this.o.key}" is not an array`);
      this.found = true;
      this.inArray = true;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (this.stack.length >= MAX_DEPTH)
        throw new JsonItemsError('syntax', `nested deeper than ${MAX_DEPTH}`);
      this.stack.push(c === OPEN_BRACE);
      this.state = c === OPEN_BRACE ? S.KeyOrClose : S.ValueOrClose;
    } else if (c === QUOTE) {
      this.key = undefined;
      this.after = this.afterValue();
      this.state = S.String;
    } else if (c === 0x2d || isDigit(c)) {
      this.after = this.afterValue();
      this.numberState = 0;
      this.state = S.Number;
      if (!this.number(c)) throw this.syntax(i, c, 'a number');
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      this.literal = c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'null';
      this.literalAt = 1;
      this.state = S.Literal;
    } else throw this.syntax(i, c, 'a value');
  }

  /** Where a value just ended leaves us. */
  private afterValue(): S {
    return this.stack.length === 0 ? S.Done : S.CommaOrClose;
  }

  private close(object: boolean, i: number): void {
    const open = this.stack.pop();
    if (open !== object) throw this.syntax(i, object ? CLOSE_BRACE : CLOSE_BRACKET, 'a matching bracket');
    if (this.inArray && this.stack.length === 1) this.inArray = false;
    this.state = this.afterValue();
  }

  private endString(): void {
    this.state = this.after;
    if (this.after !== S.Colon || !this.key) return;
    const raw = Buffer.from(this.key);
    this.key = undefined;
    const name = JSON.parse(`"${raw.toString('utf8')}"`) as string;
    if (name !== this.o.key) return;
    if (this.found) throw new JsonItemsError('shape', `"${this.o.key}" appears twice`);
    this.keyIsTarget = true;
  }

  /** Advances the number grammar by `c`; false when `c` cannot continue the number. */
  private number(c: number): boolean {
    const digit = isDigit(c);
    switch (this.numberState) {
      case 0:
        if (c === 0x2d) return ((this.numberState = 1), true);
        if (c === 0x30) return ((this.numberState = 3), true);
        if (digit) return ((this.numberState = 2), true);
        return false;
      case 1:
        if (c === 0x30) return ((this.numberState = 3), true);
        if (digit) return ((this.numberState = 2), true);
        return false;
      case 2:
      case 3:
        // More integer digits (not after a leading 0), then a fraction or an exponent.
        if (digit && this.numberState === 2) return true;
        if (c === 0x2e) return ((this.numberState = 4), true);
        if (c === 0x65 || c === 0x45) return ((this.numberState = 6), true);
        return false;
      case 4:
        if (digit) return ((this.numberState = 5), true);
        return false;
      case 5:
        if (digit) return true;
        if (c === 0x65 || c === 0x45) return ((this.numberState = 6), true);
        return false;
      case 6:
        if (c === 0x2b || c === 0x2d) return ((this.numberState = 7), true);
        if (digit) return ((this.numberState = 8), true);
        return false;
      case 7:
        if (digit) return ((this.numberState = 8), true);
        return false;
      default:
        return digit;
    }
  }

  private endNumber(i: number, c: number): void {
    // Complete only after a digit: "-", "1.", "1e" and "1e+" are not numbers.
    if (this.numberState !== 2 && this.numberState !== 3 && this.numberState !== 5 && this.numberState !== 8)
      throw c < 0
        ? new JsonItemsError('syntax', `the JSON ends early, after ${this.bytes} bytes`)
        : this.syntax(i, c, 'a digit');
    this.state = this.after;
  }

  private startItem(c: number): void {
    this.itemParts = [];
    this.itemBytes = 0;
    this.itemKind = c === OPEN_BRACE || c === OPEN_BRACKET ? 'container' : c === QUOTE ? 'string' : 'scalar';
    this.itemDepth = this.itemKind === 'container' ? 1 : 0;
    this.itemInString = this.itemKind === 'string';
    this.itemEscape = false;
  }

  /**
   * Finds where the item being captured ends in `chunk`, from `i`: the index just past it, or -1 when it goes on
   * into the next chunk. Only strings and nesting are followed here; `JSON.parse` checks the rest.
   */
  private scanItem(chunk: Buffer, i: number): number {
    const n = chunk.length;
    if (this.itemKind === 'scalar') {
      for (; i < n; i++) {
        const c = chunk[i];
        if (c === COMMA || c === CLOSE_BRACKET || isSpace(c)) return i;
      }
      return -1;
    }
    let depth = this.itemDepth;
    let inString = this.itemInString;
    let escape = this.itemEscape;
    while (i < n) {
      if (inString) {
        if (escape) {
          escape = false;
          i++;
          continue;
        }
        // Tight: most of a listing's bytes are inside strings.
        let c = chunk[i];
        while (c !== QUOTE && c !== BACKSLASH && ++i < n) c = chunk[i];
        if (i === n) break;
        i++;
        if (c === BACKSLASH) escape = true;
        else {
          inString = false;
          if (depth === 0) return i;
        }
        continue;
      }
      const c = chunk[i++];
      if (c === QUOTE) inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i;
    }
    this.itemDepth = depth;
    this.itemInString = inString;
    this.itemEscape = escape;
    return -1;
  }

  private hold(part: Buffer): void {
    if (part.length === 0) return;
    this.itemBytes += part.length;
    if (this.itemBytes > this.o.maxItemBytes) {
      throw new JsonItemsError(
        'size',
        `item ${this.items + 1} of "${this.o.key}" is larger than ${this.o.maxItemBytes} bytes`,
      );
    }
    this.itemParts.push(part);
  }

  private emit(at: number): void {
    const parts = this.itemParts;
    this.itemParts = [];
    const text = (parts.length === 1 ? parts[0] : Buffer.concat(parts, this.itemBytes)).toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new JsonItemsError(
        'syntax',
        `item ${this.items + 1} of "${this.o.key}" (ending near byte ${this.bytes + at}) is not valid JSON: ${
          (err as Error).message
        }`,
      );
    }
    this.items++;
    this.o.onItem(value);
  }

  private syntax(i: number, c: number, expected: string): JsonItemsError {
    const shown = c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16)}`;
    return new JsonItemsError(
      'syntax',
      `malformed JSON at byte ${this.bytes + i}: ${shown} where ${expected} was due`,
    );
  }
}
