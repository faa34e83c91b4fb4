'use strict';
// Unit tests of the Node client's pieces that need no server: rich error decoding and the
// affinity key. `npm test` (node --test); tests/e2e/test_node_client.py runs it too.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const { loadProtos } = require('../src/protos');
const { fromServiceError } = require('../src/errors');
const { affinityKey } = require('../src/client');

const { rpc } = loadProtos();

/** A grpc-js ServiceError as the server would send it, details in the trailer. */
function serviceError(code, message, details) {
  const Status = rpc.lookupType('google.rpc.Status');
  const packed = details.map(([typeName, value]) => ({
    type_url: `type.googleapis.com/${typeName}`,
    value: rpc.lookupType(typeName).encode(rpc.lookupType(typeName).fromObject(value)).finish(),
  }));
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin',
    Buffer.from(Status.encode(Status.fromObject({ code, message, details: packed })).finish()));
  return Object.assign(new Error(message), { code, details: message, metadata });
}

test('BadRequest field violations are decoded', () => {
  const err = serviceError(grpc.status.INVALID_ARGUMENT, 'bad jd', [
    ['google.rpc.BadRequest', { fieldViolations: [{ field: 'job_description', description: 'empty' }] }],
  ]);
  const decoded = fromServiceError(rpc, err, 'rid1');
  assert.equal(decoded.codeName, 'INVALID_ARGUMENT');
  assert.deepEqual(decoded.fieldViolations, [{ field: 'job_description', description: 'empty' }]);
  assert.equal(decoded.requestId, 'rid1');
});

test('RetryInfo becomes retryDelayMs', () => {
  const err = serviceError(grpc.status.RESOURCE_EXHAUSTED, 'queue full', [
    ['google.rpc.RetryInfo', { retryDelay: { seconds: 1, nanos: 500000000 } }],
  ]);
  const decoded = fromServiceError(rpc, err, 'rid2');
  assert.equal(decoded.codeName, 'RESOURCE_EXHAUSTED');
  assert.equal(decoded.retryDelayMs, 1500);
});

test('an error without details keeps its code and message', () => {
  const err = Object.assign(new Error('x'), { code: grpc.status.UNAVAILABLE, details: 'down',
    metadata: new grpc.Metadata() });
  const decoded = fromServiceError(rpc, err, 'rid3');
  assert.equal(decoded.codeName, 'UNAVAILABLE');
  assert.equal(decoded.details, 'down');
  assert.deepEqual(decoded.fieldViolations, []);
});

test('affinity key is the first 16 hex digits of sha256(JD)', () => {
  const jd = 'Rust engineer, 5 years';
  assert.equal(affinityKey(jd), crypto.createHash('sha256').update(jd).digest('hex').slice(0, 16));
  assert.equal(affinityKey(jd).length, 16);
});
