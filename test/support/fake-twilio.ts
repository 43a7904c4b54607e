import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';

/**
 * A loopback fake of Twilio's Messages API, enough for the real SDK:
 * `POST /2010-04-01/Accounts/:sid/Messages.json` (form body, HTTP Basic auth) answers 201 with a
 * message resource (sid `SM…`, status `queued`), Twilio's error bodies otherwise. Records every request;
 * `failNext(n, …)` makes the next n message requests fail with a 5xx or a Twilio error code.
 */
export interface FakeTwilioRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  form: Record<string, string>;
  /** The message sid answered, when one was created. */
  sid?: string;
}

export interface FakeMessage {
  sid: string;
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  statusCallback: string | null;
  status: string;
}

type Failure = { status: number; code?: number; message?: string };

export class FakeTwilio {
  readonly requests: FakeTwilioRequest[] = [];
  readonly messages: FakeMessage[] = [];
  private failures: Failure[] = [];
  private rules: { match: (form: Record<string, string>) => boolean; failure: Failure }[] = [];
  private server?: Server;
  url = '';

  constructor(readonly accountSid = `AC${randomBytes(16).toString('hex')}`, readonly authToken = randomBytes(16).toString('hex')) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Fail the next `n` message requests: `{ status: 500 }`, or `{ status: 400, code: 21211 }`. */
  failNext(n: number, failure: Failure): void {
    for (let i = 0; i < n; i++) this.failures.push(failure);
  }

  /** Fail every message request whose form matches (e.g. its Body names a case) until `clearFailures()`. */
  failWhere(match: (form: Record<string, string>) => boolean, failure: Failure): void {
    this.rules.push({ match, failure });
  }

  clearFailures(): void {
    this.rules = [];
    this.failures = [];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = (req.url ?? '/').split('?')[0]!;
    const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const record: FakeTwilioRequest = { method: req.method ?? '', path, headers: req.headers, form };
    this.requests.push(record);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, code: number, message: string) =>
      send(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });

    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path);
    if (!m || req.method !== 'POST') return error(404, 20404, `The requested resource ${path} was not found`);
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    if (req.headers.authorization !== expected || m[1] !== this.accountSid) return error(401, 20003, 'Authenticate');
    const failure = this.rules.find((r) => r.match(form))?.failure ?? this.failures.shift();
    if (failure) {
      if (failure.status >= 500 && failure.code === undefined) return send(failure.status, { message: 'Internal Server Error', status: failure.status });
      return error(failure.status, failure.code ?? 20500, failure.message ?? `fake failure ${failure.code ?? ''}`.trim());
    }
    if (!form.To) return error(400, 21604, "A 'To' phone number is required.");
    if (!form.Body) return error(400, 21602, 'Message body is required.');
    if (!form.From && !form.MessagingServiceSid) return error(400, 21603, "A 'From' phone number is required.");
    const sid = `SM${randomBytes(16).toString('hex')}`;
    record.sid = sid;
    const msg: FakeMessage = {
      sid, to: form.To, from: form.From ?? null, messagingServiceSid: form.MessagingServiceSid ?? null,
      body: form.Body, statusCallback: form.StatusCallback ?? null, status: 'queued',
    };
    this.messages.push(msg);
    const now = new Date().toUTCString();
    send(201, {
      account_sid: this.accountSid, api_version: '2010-04-01', body: msg.body, date_created: now, date_sent: null, date_updated: now,
      direction: 'outbound-api', error_code: null, error_message: null, from: msg.from, messaging_service_sid: msg.messagingServiceSid,
      num_media: '0', num_segments: '1', price: null, price_unit: 'USD', sid, status: 'queued', subresource_uris: {},
      to: msg.to, uri: `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}.json`,
    });
  }
}

/** X-Twilio-Signature for a callback to `url` with form `params`, computed exactly as Twilio does. */
export function signTwilioCallback(authToken: string, url: string, params: Record<string, string>): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

/** A status callback body as Twilio posts it. */
export function statusCallbackBody(msg: { sid: string; to: string; from?: string | null }, accountSid: string, status: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AccountSid: accountSid, ApiVersion: '2010-04-01', From: msg.from ?? '+15005550006', MessageSid: msg.sid, MessageStatus: status,
    SmsSid: msg.sid, SmsStatus: status, To: msg.to, ...extra,
  };
}
