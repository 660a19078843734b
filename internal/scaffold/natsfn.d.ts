// Types of what a natsfn function sees. Written by `natsfn types`; the
// same file is embedded in the natsfn binary, so regenerate it after an
// upgrade rather than editing it.
//
// The standard web globals (fetch, Request, Response, Headers, URL,
// TextEncoder, crypto.subtle, setTimeout, ...) are not declared here: they
// come from TypeScript's own libraries. Use "lib": ["ES2023", "WebWorker"]
// in tsconfig.json: WebWorker declares the web globals without the DOM's
// document and window, the closest of TypeScript's libraries to the set a
// function has. It also declares a few worker-only names (postMessage,
// importScripts, self.onmessage) that functions do not have.

/**
 * Bytes natsfn hands a function: the payload, and what host services
 * return. A Uint8Array with ways to read it as text or JSON.
 */
interface Payload extends Uint8Array {
  /** The bytes decoded as UTF-8. */
  text(): string;
  /** The bytes parsed as JSON. */
  json<T = any>(): T;
  /** The text, so that returning a payload inside an object gives readable JSON. */
  toJSON(): string;
}

/**
 * What host services accept as a body, value or payload: bytes (a typed
 * array or ArrayBuffer), a string (sent as UTF-8), or any other value
 * (sent as JSON).
 */
type HostBody = string | ArrayBuffer | ArrayBufferView | number | boolean | object | null;

/** NATS headers: a name and its values. */
type NatsHeaders = Record<string, string[]>;

/** The third argument of a call on a subject trigger (--trigger). */
interface SubjectMsg {
  kind?: undefined;
  /** The message's NATS headers. */
  headers: NatsHeaders;
  /** The subject the reply goes to; "" when the caller expects none. */
  reply: string;
}

/**
 * The third argument of a consumer delivery (--consume, --schedule,
 * --watch): at least once; return acks, a throw naks. The first decision
 * of an invocation stands.
 */
interface DeliveryMsg {
  kind: 'stream' | 'schedule' | 'watch';
  headers: NatsHeaders;
  /** Always "". */
  reply: string;
  /** The stream the message is in. */
  stream?: string;
  /** The message's sequence in its stream (a schedule: identifies the tick). */
  seq: number;
  /** 1 on the first delivery, 2 on the first redelivery, ... */
  deliveries: number;
  /** When the message was stored (a schedule: when it fired), RFC 3339 in UTC. */
  time: string;
  /** watch: the bucket, key, operation and revision of the change. */
  bucket?: string;
  key?: string;
  operation?: 'PUT' | 'DEL' | 'PURGE';
  revision?: number;
  /** Done, even if the function then throws. */
  ack(): void;
  /** Redeliver after delayMs (default 0); counts as a failed delivery. */
  nak(delayMs?: number): void;
  /** Never deliver again, and no dead letter; the reason goes to the log. */
  term(reason?: string): void;
  /** Accepted, and nothing to do: the ack wait covers the function's timeout. */
  inProgress(): void;
}

/** The third argument of a function: narrow it with `msg.kind`. */
type Msg = SubjectMsg | DeliveryMsg;

/**
 * The function: the default export of a module, or the value of a script.
 * What it returns (or its Promise resolves to) is the reply: nothing is an
 * empty reply, a string its UTF-8, bytes as they are, anything else JSON.
 */
type Handler = (subject: string, payload: Payload, msg: Msg) => unknown;

/** An HTTP response. A 4xx or 5xx status is a response, not an error. */
interface HttpResponse {
  status: number;
  /** Lower-case names, arrays of values. */
  headers: NatsHeaders;
  /** The body as text. */
  response: string;
  /** The body as bytes. */
  body: Payload;
}

interface HttpOptions {
  headers?: Record<string, string | string[]>;
  /** Milliseconds; never past the invocation's deadline. */
  timeout?: number;
}

interface Http {
  get(url: string, opts?: HttpOptions): HttpResponse;
  head(url: string, opts?: HttpOptions): HttpResponse;
  post(url: string, body?: HostBody, opts?: HttpOptions): HttpResponse;
  put(url: string, body?: HostBody, opts?: HttpOptions): HttpResponse;
  patch(url: string, body?: HostBody, opts?: HttpOptions): HttpResponse;
  del(url: string, body?: HostBody, opts?: HttpOptions): HttpResponse;
  delete(url: string, body?: HostBody, opts?: HttpOptions): HttpResponse;
}

/** The function's own key-value bucket. */
interface KV {
  /** The value, or null when the key is absent. */
  get(key: string): Payload | null;
  /** Stores the value; returns the key's new revision. */
  set(key: string, value: HostBody): number;
  /** The same as set. */
  put(key: string, value: HostBody): number;
  /** Deleting an absent key is fine. */
  delete(key: string): void;
  /** The keys, sorted; [] when the bucket is empty. */
  keys(): string[];
}

interface ObjectInfo {
  name: string;
  size: number;
  /** "SHA-256=" and the URL-safe base64 of the content's SHA-256. */
  digest: string;
  /** RFC 3339, UTC. */
  modified: string;
}

/** The function's own object store. */
interface ObjectStore {
  put(name: string, data: HostBody): ObjectInfo;
  /** The data, or null when absent. */
  get(name: string): Payload | null;
  /** Deleting an absent object is fine. */
  delete(name: string): void;
  /** Every object, by name; [] when empty. */
  list(): ObjectInfo[];
}

interface PublishOptions {
  headers?: Record<string, string | string[]>;
}

interface RequestOptions extends PublishOptions {
  /** Milliseconds; at most the node's messaging timeout (5 s by default). */
  timeout?: number;
}

interface RequestManyOptions extends RequestOptions {
  /** Stop after this many replies (at most 1000 by default). */
  max?: number;
  /** Stop after a quiet gap of this many milliseconds after a reply (250 by default; 0: off). */
  stall?: number;
}

/** NATS messaging in the function's namespace. */
interface Messaging {
  publish(subject: string, payload?: HostBody, opts?: PublishOptions): void;
  /** The reply. Throws NO_RESPONDERS when nobody listens, TIMEOUT when no reply comes. */
  request(subject: string, payload?: HostBody, opts?: RequestOptions): Payload;
  /** The replies gathered, in order. */
  requestMany(subject: string, payload?: HostBody, opts?: RequestManyOptions): Payload[];
}

/** The same methods, returning Promises, so that host calls can overlap. */
type Promised<T> = {
  readonly [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;
};

/**
 * The host services. Every call is synchronous and bounded by the
 * invocation's deadline; a failure throws an Error (a TypeError for a bad
 * argument) whose `code` says what went wrong (docs/host-services.md).
 */
interface HostServices {
  readonly http: Http;
  readonly kv: KV;
  readonly objectStore: ObjectStore;
  readonly messaging: Messaging;
  /** Each service again, with every method returning a Promise. */
  readonly promises: {
    readonly http: Promised<Http>;
    readonly kv: Promised<KV>;
    readonly objectStore: Promised<ObjectStore>;
    readonly messaging: Promised<Messaging>;
  };
}

/** An Error thrown by a host service, with its code (e.g. "TIMEOUT"). */
interface HostError extends Error {
  code: string;
}

/** The host services: http, kv, objectStore and messaging. */
declare const hostServices: HostServices;

/** The function's environment, from `natsfn deploy --env K=V`. */
declare const env: Readonly<Record<string, string>>;
