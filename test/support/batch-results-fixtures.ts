import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CompletedPart,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Batch output files as Together writes them (OpenAI-batch-like JSONL, every variant the collector must read), with
 * what they must count to worked out as they are written; and S3 stubbed at the SDK boundary, keeping S3's rules
 * for multipart uploads so a wrong upload fails the way S3 would fail it.
 */

export const MODELS = [
  'meta-llama/Llama-3.3-70B-Instruct-Turbo',
  'Qwen/Qwen2.5-7B-Instruct-Turbo',
  // Multi-byte UTF-8 in a metric dimension: decoded wrongly, it would be counted under another name.
  'acme/modèle-été-日本語-🎉',
];

export interface Expected {
  lines: number;
  failed: number;
  prompt: number;
  completion: number;
  total: number;
  byModel: Record<string, number>;
}

export interface GeneratedFile {
  readonly text: string;
  readonly bytes: number;
  readonly expected: Expected;
}

/** Deterministic pseudo-random integers (a 32-bit LCG). */
function rng(seed: number): (max: number) => number {
  let s = seed >>> 0;
  return (max) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % max;
  };
}

const WORDS = [
  'héllo',
  'wörld',
  '—',
  '日本語のテキスト',
  '🎉',
  '🚀',
  'naïve',
  'Ωmega',
  'plain',
  'ascii',
  'Привет',
];

/**
 * JSONL of about `targetBytes`, ending with `\n` unless `trailingNewline` is false. Every line's effect on the
 * counts is added to `expected` as it is generated.
 */
export function batchOutput(targetBytes: number, seed = 1, trailingNewline = true): GeneratedFile {
  const rand = rng(seed);
  const expected: Expected = { lines: 0, failed: 0, prompt: 0, completion: 0, total: 0, byModel: {} };
  const out: string[] = [];
  let bytes = 0;
  const count = (model: string, p: number, c: number, t: number) => {
    expected.prompt += p;
    expected.completion += c;
    expected.total += t;
    expected.byModel[model] = (expected.byModel[model] ?? 0) + t;
  };
  for (let i = 0; bytes < targetBytes; i++) {
    const model = MODELS[rand(MODELS.length)];
    const p = 1 + rand(4000);
    const c = rand(2000);
    const content = Array.from({ length: 5 + rand(60) }, () => WORDS[rand(WORDS.length)]).join(' ');
    const completion = {
      id: `cmpl-${i}`,
      object: 'chat.completion',
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    };
    let line: string;
    switch (i % 12) {
      case 0:
      case 1:
      case 2: // the OpenAI batch shape
        line = JSON.stringify({
          id: `batch_req_${i}`,
          custom_id: `req-${i}`,
          response: {
            status_code: 200,
            request_id: `r-${i}`,
            body: { ...completion, usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c } },
          },
          error: null,
        });
        expected.lines++;
        count(model, p, c, p + c);
        break;
      case 3: // a total that is not the sum (cached tokens, say): the given total counts
        line = JSON.stringify({
          custom_id: `req-${i}`,
          response: {
            status_code: 200,
            body: {
              ...completion,
              usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c + 7 },
            },
          },
        });
        expected.lines++;
        count(model, p, c, p + c + 7);
        break;
      case 4: // no total: prompt + completion
        line = JSON.stringify({
          custom_id: `req-${i}`,
          response: {
            status_code: 200,
            body: { ...completion, usage: { prompt_tokens: p, completion_tokens: c } },
          },
        });
        expected.lines++;
        count(model, p, c, p + c);
        break;
      case 5: // usage and model at body
        line = JSON.stringify({
          custom_id: `req-${i}`,
          body: { model, content, usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c } },
        });
        expected.lines++;
        count(model, p, c, p + c);
        break;
      case 6: // usage and model on the line itself, CRLF line ending
        line = JSON.stringify({
          custom_id: `req-${i}`,
          model,
          output: content,
          usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c },
        });
        line += '\r';
        expected.lines++;
        count(model, p, c, p + c);
        break;
      case 7: // usage but no model anywhere
        line = JSON.stringify({
          custom_id: `req-${i}`,
          response: {
            status_code: 200,
            body: { output: content, usage: { prompt_tokens: p, completion_tokens: c } },
          },
        });
        expected.lines++;
        count('unknown', p, c, p + c);
        break;
      case 8: // a request that failed outright
        line = JSON.stringify({
          custom_id: `req-${i}`,
          response: null,
          error: { code: 'batch_expired', message: `request ${content} expired` },
        });
        expected.lines++;
        expected.failed++;
        break;
      case 9: // an HTTP error status, still billed
        line = JSON.stringify({
          custom_id: `req-${i}`,
          response: {
            status_code: 429,
            body: { model, error: { message: content }, usage: { prompt_tokens: p, completion_tokens: 0 } },
          },
          error: null,
        });
        expected.lines++;
        expected.failed++;
        count(model, p, 0, p);
        break;
      case 10: // not JSON
        line = `{"custom_id": "req-${i}", "response": {"status_code": 200, "body": "${content}`;
        expected.lines++;
        expected.failed++;
        break;
      default: // blank lines are not results
        line = i % 24 === 11 ? '' : '   \t';
    }
    out.push(line);
    bytes += Buffer.byteLength(line) + 1;
  }
  const text = out.join('\n') + (trailingNewline ? '\n' : '');
  return { text, bytes: Buffer.byteLength(text), expected };
}

/** An error file: every non-empty line is a failed request. */
export function batchErrors(failed: number): GeneratedFile {
  const lines: string[] = [];
  for (let i = 0; i < failed; i++) {
    lines.push(
      JSON.stringify({ custom_id: `err-${i}`, error: { code: 'invalid_request', message: `ünknown ${i}` } }),
    );
    if (i % 3 === 0) lines.push('');
  }
  const text = lines.join('\n') + '\n';
  return {
    text,
    bytes: Buffer.byteLength(text),
    expected: { lines: 0, failed, prompt: 0, completion: 0, total: 0, byModel: {} },
  };
}

const MIN_PART = 5 * 1024 * 1024;

function s3Error(name: string, message: string, fault: 'client' | 'server' = 'client'): S3ServiceException {
  return new S3ServiceException({
    name,
    message,
    $fault: fault,
    $metadata: { httpStatusCode: fault === 'server' ? 500 : 400 },
  });
}

const md5 = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;

function bytesOf(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (typeof body === 'string') return Buffer.from(body);
  throw new Error(`the fake S3 takes Buffer, Uint8Array or string bodies, got ${typeof body}`);
}

/**
 * Every S3Client mocked: objects and multipart uploads kept in memory. CompleteMultipartUpload checks what S3
 * checks (parts ascending, ETags matching the uploaded parts, every part but the last at least 5 MiB).
 */
export function fakeS3() {
  const mock = mockClient(S3Client);
  const objects = new Map<string, { body: Buffer; contentType?: string }>();
  const uploads = new Map<
    string,
    {
      bucket: string;
      key: string;
      contentType?: string;
      checksumAlgorithm?: string;
      parts: Map<number, { etag: string; body: Buffer; checksum?: string }>;
    }
  >();
  let nextUpload = 1;
  const faults: {
    uploadPart?: (partNumber: number) => Error | undefined;
    /** Holds an UploadPart until the promise settles: a slow S3. */
    holdPart?: (partNumber: number) => Promise<void> | undefined;
  } = {};

  const install = () => {
    mock.on(PutObjectCommand).callsFake((input) => {
      const body = bytesOf(input.Body);
      objects.set(`${input.Bucket}/${input.Key}`, { body, contentType: input.ContentType });
      return { ETag: md5(body) };
    });
    mock.on(CreateMultipartUploadCommand).callsFake((input) => {
      const id = `upload-${nextUpload++}`;
      uploads.set(id, {
        bucket: input.Bucket!,
        key: input.Key!,
        contentType: input.ContentType,
        checksumAlgorithm: input.ChecksumAlgorithm,
        parts: new Map(),
      });
      return { Bucket: input.Bucket, Key: input.Key, UploadId: id };
    });
    mock.on(UploadPartCommand).callsFake(async (input) => {
      await faults.holdPart?.(input.PartNumber!);
      const fault = faults.uploadPart?.(input.PartNumber!);
      if (fault) throw fault;
      const upload = uploads.get(input.UploadId!);
      if (!upload || upload.bucket !== input.Bucket || upload.key !== input.Key)
        throw s3Error('NoSuchUpload', 'The specified upload does not exist.');
      const body = bytesOf(input.Body);
      const etag = md5(body);
      // S3's rule: a part of an upload created with a checksum algorithm carries that algorithm's checksum (the
      // SDK computes the value from ChecksumAlgorithm after this boundary, so here it is computed for it).
      if ((input.ChecksumAlgorithm ?? undefined) !== upload.checksumAlgorithm)
        throw s3Error(
          'InvalidRequest',
          `Checksum Type mismatch occurred, expected checksum Type: ${upload.checksumAlgorithm ?? 'null'}, actual checksum Type: ${input.ChecksumAlgorithm ?? 'null'}`,
        );
      const checksum = upload.checksumAlgorithm === 'CRC32' ? crc32Base64(body) : undefined;
      upload.parts.set(input.PartNumber!, { etag, body, checksum });
      return { ETag: etag, ...(checksum ? { ChecksumCRC32: checksum } : {}) };
    });
    mock.on(CompleteMultipartUploadCommand).callsFake((input) => {
      const upload = uploads.get(input.UploadId!);
      if (!upload) throw s3Error('NoSuchUpload', 'The specified upload does not exist.');
      const parts: CompletedPart[] = input.MultipartUpload?.Parts ?? [];
      if (parts.length === 0) throw s3Error('MalformedXML', 'no parts');
      const bodies: Buffer[] = [];
      parts.forEach((p, i) => {
        if (i > 0 && p.PartNumber! <= parts[i - 1].PartNumber!)
          throw s3Error('InvalidPartOrder', 'not ascending');
        const stored = upload.parts.get(p.PartNumber!);
        if (!stored || stored.etag !== p.ETag) throw s3Error('InvalidPart', `part ${p.PartNumber} not found`);
        if (upload.checksumAlgorithm && !p.ChecksumCRC32)
          throw s3Error(
            'InvalidRequest',
            `The upload was created using a ${upload.checksumAlgorithm.toLowerCase()} checksum. The complete request must include the checksum for each part. It was missing for part ${p.PartNumber} in the request.`,
          );
        if (upload.checksumAlgorithm && p.ChecksumCRC32 !== stored.checksum)
          throw s3Error('InvalidPart', `part ${p.PartNumber}: checksum does not match`);
        if (i < parts.length - 1 && stored.body.length < MIN_PART)
          throw s3Error('EntityTooSmall', `part ${p.PartNumber} is ${stored.body.length} bytes`);
        bodies.push(stored.body);
      });
      const body = Buffer.concat(bodies);
      objects.set(`${upload.bucket}/${upload.key}`, { body, contentType: upload.contentType });
      uploads.delete(input.UploadId!);
      return { Bucket: upload.bucket, Key: upload.key, ETag: `"multipart-${parts.length}"` };
    });
    mock.on(AbortMultipartUploadCommand).callsFake((input) => {
      if (!uploads.delete(input.UploadId!))
        throw s3Error('NoSuchUpload', 'The specified upload does not exist.');
      return {};
    });
  };
  install();

  return {
    mock,
    objects,
    /** Multipart uploads neither completed nor aborted. */
    uploads,
    faults,
    reset() {
      mock.reset();
      objects.clear();
      uploads.clear();
      faults.uploadPart = undefined;
      faults.holdPart = undefined;
      install();
    },
    /** The S3 commands sent, by name, in order. */
    commandNames(): string[] {
      return mock.calls().map((c) => (c.args[0] as object).constructor.name);
    },
    s3Error,
  };
}

/** S3's base64 of the big-endian CRC32. */
export function crc32Base64(body: Buffer): string {
  const n = Buffer.alloc(4);
  n.writeUInt32BE(crc32(body));
  return n.toString('base64');
}
