#!/usr/bin/env node
// @ts-check
'use strict';
// hireserve-node: a small CLI over the Node client. Prints one JSON document per answer on
// stdout; a failed call prints {"error": {...}} (code, message, fieldViolations) on stdout
// and exits 2, so scripts can read both the same way.
//
//   hireserve-node [--target HOST:PORT] [--token T] health [SERVICE]
//   hireserve-node [--target ...] screen --jd JD_FILE RESUME_FILE
//   hireserve-node [--target ...] batch --jd JD_FILE RESUME_FILE...
//   hireserve-node [--target ...] questions [--jd JD_FILE] [-n N] RESUME_FILE
//   hireserve-node [--target ...] info
// A file named "-" is read from standard input; --jd-text gives the JD inline.

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { HireClient, HireError } = require('../src/client');

const TEXT_EXT = new Set(['.txt', '.md', '.markdown', '']);

/** A resume file: text files as text, anything else (PDF, DOCX) as bytes with its name. */
function readResume(/** @type {string} */ file) {
  if (file === '-') return { text: fs.readFileSync(0, 'utf8') };
  const ext = path.extname(file).toLowerCase();
  if (TEXT_EXT.has(ext)) return { text: fs.readFileSync(file, 'utf8'), filename: path.basename(file) };
  return { data: fs.readFileSync(file), filename: path.basename(file) };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      target: { type: 'string', default: process.env.HIRESERVE_TARGET || '127.0.0.1:50051' },
      token: { type: 'string', default: process.env.HIRESERVE_TOKEN || '' },
      jd: { type: 'string' },
      'jd-text': { type: 'string' },
      n: { type: 'string', short: 'n', default: '0' },
      'deadline-ms': { type: 'string' },
    },
  });
  const [command, ...args] = positionals;
  const jd = values['jd-text'] ?? (values.jd ? fs.readFileSync(values.jd, 'utf8') : undefined);
  const opts = values['deadline-ms'] ? { deadlineMs: Number(values['deadline-ms']) } : {};
  const client = new HireClient(values.target, { token: values.token });
  const print = (/** @type {any} */ x) => process.stdout.write(`${JSON.stringify(x)}\n`);
  try {
    switch (command) {
      case 'health':
        print({ status: await client.health(args[0] || '', opts) });
        break;
      case 'info':
        print(await client.modelInfo(opts));
        break;
      case 'screen':
        print(await client.screen({ jobDescription: jd ?? '', resume: readResume(args[0]) }, opts));
        break;
      case 'batch': {
        const resumes = args.map((f) => ({ resumeId: path.basename(f), resume: readResume(f) }));
        for await (const event of client.screenBatch({ jobDescription: jd ?? '', resumes }, opts)) {
          if (event.result && event.result.hireError) event.result.hireError = event.result.hireError.toJSON();
          print(event);
        }
        break;
      }
      case 'questions':
        print(await client.generateQuestions({
          resume: readResume(args[0]), jobDescription: jd ?? '', numQuestions: Number(values.n),
        }, opts));
        break;
      default:
        process.stderr.write('usage: hireserve-node [--target HOST:PORT] '
          + '{health [SERVICE] | info | screen --jd F RESUME | batch --jd F RESUME... '
          + '| questions [--jd F] [-n N] RESUME}\n');
        process.exitCode = 64;
    }
  } catch (err) {
    if (!(err instanceof HireError)) throw err;
    print({ error: err.toJSON() });
    process.exitCode = 2;
  } finally {
    client.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exitCode = 1;
});
