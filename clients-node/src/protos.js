// @ts-check
'use strict';
// Loads the hireserve contract at run time: proto/ of this repository (or HIRESERVE_PROTO_DIR),
// google/rpc from the google-proto-files package, grpc.health.v1 from grpc-health-check.
// No generated code to keep in step with proto/: the .proto files are the single source.

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const DEFAULT_PROTO_DIR = path.resolve(__dirname, '..', '..', 'proto');
const GOOGLE_PROTOS = path.dirname(require.resolve('google-proto-files/package.json'));
const HEALTH_PROTO = path.join(
  path.dirname(require.resolve('grpc-health-check/package.json')), 'proto', 'health', 'v1',
  'health.proto');

// camelCase fields, enums as their names, int64 as strings (no precision loss), defaults filled
// in so a caller can read response.matchScore even when it is 0.
const LOADER_OPTIONS = {
  keepCase: false, longs: String, enums: String, defaults: true, oneofs: true,
};

/**
 * @param {string} [protoDir] the folder holding hireserve/v1/*.proto
 * @returns {{ hireserve: any, health: any, rpc: protobuf.Root }}
 */
function loadProtos(protoDir = process.env.HIRESERVE_PROTO_DIR || DEFAULT_PROTO_DIR) {
  const files = ['screening.proto', 'generation.proto', 'common.proto']
    .map((f) => path.join('hireserve', 'v1', f));
  const definition = protoLoader.loadSync(files, {
    ...LOADER_OPTIONS, includeDirs: [protoDir, GOOGLE_PROTOS],
  });
  const hireserve = /** @type {any} */ (grpc.loadPackageDefinition(definition)).hireserve.v1;
  const health = /** @type {any} */ (grpc.loadPackageDefinition(
    protoLoader.loadSync(HEALTH_PROTO, LOADER_OPTIONS))).grpc.health.v1;
  // google.rpc.Status and its details are decoded by hand from the trailer
  // grpc-status-details-bin: protobufjs types, not service stubs.
  const rpc = new protobuf.Root();
  rpc.resolvePath = (_origin, target) => (path.isAbsolute(target)
    ? target : path.join(GOOGLE_PROTOS, target));
  rpc.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto']);
  return { hireserve, health, rpc };
}

module.exports = { loadProtos, DEFAULT_PROTO_DIR };
