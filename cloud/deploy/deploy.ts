// Runs (or, with dryRun, prints) the deployment plan, after staging the
// functions' bundle: the built cloud/ and shared/ trees and a package.json
// whose main is the functions' entry point and whose dependencies are the
// cloud's only (the edge's native modules are not shipped to the cloud).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../shared/cli.js';
import { deployPlan, formatStep, type DeployOptions, type Step } from './plan.js';
import { ownValue } from '../../shared/record.js';

const CLOUD_DEPENDENCIES = [
  '@google-cloud/firestore',
  '@google-cloud/functions-framework',
  '@google-cloud/pubsub',
  'pino',
];

/** Writes the bundle from a built tree (`dist/`) and the project's package.json. */
export function stageBundle(distDir: string, packageJsonPath: string, stageDir: string): void {
  for (const part of ['cloud', 'shared']) {
    if (!existsSync(join(distDir, part))) throw new Error(`${join(distDir, part)} is missing: run npm run build first`);
    cpSync(join(distDir, part), join(stageDir, part), { recursive: true, filter: (src) => !src.endsWith('.map') });
  }
  const pkg = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
  };
  const dependencies = Object.fromEntries(CLOUD_DEPENDENCIES.map((d) => [d, ownValue(pkg.dependencies, d)]));
  mkdirSync(stageDir, { recursive: true });
  writeFileSync(
    join(stageDir, 'package.json'),
    `${JSON.stringify(
      {
        name: 'wardgate-cloud-functions',
        version: pkg.version,
        private: true,
        type: 'module',
        main: 'cloud/index.js',
        engines: { node: '>=20' },
        dependencies,
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(stageDir, '.gcloudignore'), 'node_modules/\n*.map\n');
}

export interface RunIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/**
 * Prints every step (dry run) or runs them in order, stopping at the first real
 * failure. A run of checks that finds something missing stops before the next
 * step that would change anything, and prints what the operator must do.
 */
export async function runPlan(options: DeployOptions, dryRun: boolean, io: RunIO): Promise<number> {
  const steps = deployPlan(options);
  const missing: string[] = [];
  for (const step of steps) {
    if (!step.guide && missing.length > 0) break;
    io.stdout.write(`${formatStep(step)}\n`);
    if (dryRun) continue;
    const { code, out } = await run(step, io);
    if (code !== 0) {
      io.stderr.write(`deploy stopped: step failed (${step.why})\n`);
      return code;
    }
    if (step.guide && out.trim() === '') missing.push(step.guide);
  }
  if (missing.length > 0) {
    io.stderr.write(`deploy stopped before creating anything else:\n\n${missing.join('\n\n')}\n`);
    return ExitCode.failure;
  }
  if (dryRun) io.stdout.write(`# dry run: ${steps.length} commands printed, none run\n`);
  return ExitCode.ok;
}

/** Runs one step; a check's output is kept (to see whether it found anything), every other output is passed on. */
function run(step: Step, io: RunIO): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(step.argv[0], step.argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      if (step.guide) out += d.toString('utf8');
      else io.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString('utf8');
      io.stderr.write(d);
    });
    child.on('error', (e) => {
      io.stderr.write(`${e.message}\n`);
      resolve({ code: 127, out });
    });
    child.on('close', (code) =>
      resolve({
        code: code !== 0 && step.okIfExists && /already exists|ALREADY_EXISTS/i.test(err) ? 0 : (code ?? 1),
        out,
      }),
    );
  });
}
