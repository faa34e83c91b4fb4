// @ts-check
'use strict';
// HireError: a failed call with the server's google.rpc rich details decoded (BadRequest
// field violations name the request field at fault; RetryInfo says when to try again).

const grpc = require('@grpc/grpc-js');

const DETAILS_TRAILER = 'grpc-status-details-bin';

class HireError extends Error {
  /**
   * @param {string} codeName e.g. "INVALID_ARGUMENT"
   * @param {string} message
   * @param {{ fieldViolations?: {field: string, description: string}[],
   *           retryDelayMs?: number | null, requestId?: string }} [extra]
   */
  constructor(codeName, message, extra = {}) {
    super(`${codeName}: ${message}`);
    this.name = 'HireError';
    this.codeName = codeName;
    this.details = message;
    this.fieldViolations = extra.fieldViolations || [];
    this.retryDelayMs = extra.retryDelayMs ?? null;
    this.requestId = extra.requestId || '';
  }

  toJSON() {
    return {
      code: this.codeName, message: this.details, fieldViolations: this.fieldViolations,
      retryDelayMs: this.retryDelayMs, requestId: this.requestId,
    };
  }
}

/** @param {number} code */
function codeName(code) {
  return Object.keys(grpc.status).find((k) => /** @type {any} */ (grpc.status)[k] === code)
    || `CODE_${code}`;
}

/** @param {any} duration google.protobuf.Duration as protobufjs decodes it */
function durationMs(duration) {
  return Number(duration.seconds || 0) * 1000 + Math.round(Number(duration.nanos || 0) / 1e6);
}

/**
 * Decodes a google.rpc.Status (from the trailer, or one that ScreenBatch streams per resume).
 * @param {import('protobufjs').Root} rpc
 * @param {Uint8Array} bytes
 * @param {string} [requestId]
 */
function fromStatusBytes(rpc, bytes, requestId = '') {
  const Status = rpc.lookupType('google.rpc.Status');
  const status = /** @type {any} */ (Status.decode(bytes));
  return fromStatus(rpc, status, requestId);
}

/** @param {import('protobufjs').Root} rpc @param {any} status @param {string} [requestId] */
function fromStatus(rpc, status, requestId = '') {
  const fieldViolations = [];
  let retryDelayMs = null;
  for (const any of status.details || []) {
    const typeName = String(any.typeUrl || any.type_url || '').split('/').pop();
    if (typeName === 'google.rpc.BadRequest') {
      const bad = /** @type {any} */ (rpc.lookupType(typeName).decode(any.value));
      for (const v of bad.fieldViolations || []) {
        fieldViolations.push({ field: v.field, description: v.description });
      }
    } else if (typeName === 'google.rpc.RetryInfo') {
      const info = /** @type {any} */ (rpc.lookupType(typeName).decode(any.value));
      if (info.retryDelay) retryDelayMs = durationMs(info.retryDelay);
    }
  }
  return new HireError(codeName(status.code), status.message || '', {
    fieldViolations, retryDelayMs, requestId,
  });
}

/**
 * A grpc-js ServiceError as a HireError, details included when the server sent them.
 * @param {import('protobufjs').Root} rpc
 * @param {any} err
 * @param {string} requestId
 */
function fromServiceError(rpc, err, requestId) {
  const raw = err.metadata ? err.metadata.get(DETAILS_TRAILER) : [];
  if (raw && raw.length) {
    const decoded = fromStatusBytes(rpc, /** @type {Buffer} */ (raw[0]), requestId);
    if (decoded.codeName === codeName(err.code)) return decoded;
  }
  return new HireError(codeName(err.code), err.details || err.message, { requestId });
}

module.exports = { HireError, fromServiceError, fromStatus, codeName };
