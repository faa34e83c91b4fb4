// @ts-check
'use strict';
// HireClient: the Node.js client of a hireserve server (Screen, ScreenBatch, GenerateQuestions,
// GetModelInfo, health). Messages are plain objects with camelCase fields, as in proto/:
//
//   const { HireClient } = require('@hireserve/client');
//   const client = new HireClient('127.0.0.1:50051');
//   const r = await client.screen({ jobDescription: jd, resume: { text: resumeText } });
//   console.log(r.matchScore, r.summary);
//
// Failures reject with HireError (codeName, fieldViolations, retryDelayMs). Every screening
// call carries x-hireserve-affinity (sha256 of the JD, 16 hex digits), like the Python client,
// so a ring-hash proxy keeps one job description on one replica's prefix cache.

const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const { loadProtos } = require('./protos');
const { HireError, fromServiceError, fromStatus } = require('./errors');

const AFFINITY_HEADER = 'x-hireserve-affinity';
const MiB = 2 ** 20;
const DEFAULT_DEADLINES_MS = { screen: 300e3, screenBatch: 3600e3, questions: 300e3, info: 10e3,
  health: 5e3 };

/** @param {string | Buffer} jobDescription */
function affinityKey(jobDescription) {
  return crypto.createHash('sha256').update(jobDescription).digest('hex').slice(0, 16);
}

/** A resume as the proto's Document: a string is text, a Buffer is file bytes. */
function toDocument(/** @type {any} */ doc) {
  if (typeof doc === 'string') return { text: doc };
  if (Buffer.isBuffer(doc)) return { data: doc };
  return doc;
}

class HireClient {
  /**
   * @param {string} target "host:port"
   * @param {{ token?: string, tls?: boolean | { rootCert?: Buffer, clientCert?: Buffer,
   *           clientKey?: Buffer }, protoDir?: string }} [options]
   */
  constructor(target, options = {}) {
    const { hireserve, health, rpc } = loadProtos(options.protoDir);
    this.rpc = rpc;
    const tls = options.tls;
    const credentials = !tls ? grpc.credentials.createInsecure()
      : grpc.credentials.createSsl(
        tls === true ? null : tls.rootCert || null,
        tls === true ? null : tls.clientKey || null,
        tls === true ? null : tls.clientCert || null);
    const channelOptions = {
      'grpc.max_send_message_length': 256 * MiB,
      'grpc.max_receive_message_length': 64 * MiB,
    };
    this.screening = new hireserve.ScreeningService(target, credentials, channelOptions);
    // One channel for all stubs: grpc-js shares subchannels by target and options.
    this.generation = new hireserve.GenerationService(target, credentials, channelOptions);
    this.healthStub = new health.Health(target, credentials, channelOptions);
    this.token = options.token || '';
  }

  close() {
    this.screening.close();
    this.generation.close();
    this.healthStub.close();
  }

  /** @param {string} requestId @param {any} [request] */
  _metadata(requestId, request) {
    const md = new grpc.Metadata();
    md.set('x-request-id', requestId);
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    if (request && request.jobDescription) {
      md.set(AFFINITY_HEADER, affinityKey(request.jobDescription));
    }
    return md;
  }

  /** @param {any} stub @param {string} method @param {any} request @param {number} deadlineMs */
  _unary(stub, method, request, deadlineMs) {
    const requestId = crypto.randomBytes(8).toString('hex');
    return new Promise((resolve, reject) => {
      stub[method](request, this._metadata(requestId, request),
        { deadline: Date.now() + deadlineMs },
        (/** @type {any} */ err, /** @type {any} */ response) => {
          if (err) reject(fromServiceError(this.rpc, err, requestId));
          else resolve(response);
        });
    });
  }

  /**
   * Scores one resume against one job description.
   * @param {{ jobDescription: string, resume: any, options?: any }} request
   * @param {{ deadlineMs?: number }} [opts]
   */
  screen(request, opts = {}) {
    return this._unary(this.screening, 'Screen', { ...request, resume: toDocument(request.resume) },
      opts.deadlineMs || DEFAULT_DEADLINES_MS.screen);
  }

  /**
   * Streams ScreenBatch events: one `result` per resume as it finishes, then the `ranking`.
   * A resume that failed yields a result whose `error` is decoded into `result.hireError`.
   * @param {{ jobDescription: string, resumes: { resumeId: string, resume: any }[],
   *           options?: any }} request
   * @param {{ deadlineMs?: number }} [opts]
   * @returns {AsyncGenerator<any>}
   */
  async* screenBatch(request, opts = {}) {
    const requestId = crypto.randomBytes(8).toString('hex');
    const message = {
      ...request,
      resumes: request.resumes.map((r) => ({ ...r, resume: toDocument(r.resume) })),
    };
    const call = this.screening.ScreenBatch(message, this._metadata(requestId, message),
      { deadline: Date.now() + (opts.deadlineMs || DEFAULT_DEADLINES_MS.screenBatch) });
    try {
      for await (const event of call) {
        if (event.result && event.result.error) {
          event.result.hireError = fromStatus(this.rpc, event.result.error, requestId);
        }
        yield event;
      }
    } catch (err) {
      throw fromServiceError(this.rpc, err, requestId);
    } finally {
      call.cancel(); // the caller stopped early: free the server's work (no-op when done)
    }
  }

  /**
   * Interview questions about a resume (and optionally a job description).
   * @param {{ resume: any, jobDescription?: string, numQuestions?: number, options?: any }} request
   * @param {{ deadlineMs?: number }} [opts]
   */
  generateQuestions(request, opts = {}) {
    return this._unary(this.screening, 'GenerateQuestions',
      { ...request, resume: toDocument(request.resume) },
      opts.deadlineMs || DEFAULT_DEADLINES_MS.questions);
  }

  /** @param {{ deadlineMs?: number }} [opts] */
  modelInfo(opts = {}) {
    return this._unary(this.generation, 'GetModelInfo', {},
      opts.deadlineMs || DEFAULT_DEADLINES_MS.info);
  }

  /**
   * grpc.health.v1 Check; resolves to "SERVING", "NOT_SERVING", ...
   * @param {string} [service] "" for the whole server
   * @param {{ deadlineMs?: number }} [opts]
   */
  async health(service = '', opts = {}) {
    const r = await this._unary(this.healthStub, 'Check', { service },
      opts.deadlineMs || DEFAULT_DEADLINES_MS.health);
    return r.status;
  }
}

module.exports = { HireClient, HireError, affinityKey, AFFINITY_HEADER };
