// The files the dashboard page loads, all from the agent itself: its own
// scripts (client/, compiled into dist/ next to this module) and uPlot's script
// and stylesheet from the installed `uplot` package. Read once at start, so a
// missing file is an error when the agent starts, not when someone looks.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DashboardAsset {
  body: Buffer;
  contentType: string;
  /** A strong validator: the SHA-256 of the body. */
  etag: string;
}

/** URL prefixes the assets are served under. */
export const APP_ASSET_PREFIX = '/assets/app/';
export const UPLOT_ASSET_PREFIX = '/assets/uplot/';
/** uPlot's files the page uses. */
const UPLOT_FILES = ['uPlot.esm.js', 'uPlot.min.css'];

export class DashboardAssets {
  private constructor(private readonly files: ReadonlyMap<string, DashboardAsset>) {}

  /**
   * Loads the page scripts from `clientDir` (default: client/ beside this module,
   * in the source tree and in dist/ alike) and uPlot from node_modules.
   */
  static load(clientDir: string = fileURLToPath(new URL('./client/', import.meta.url))): DashboardAssets {
    const files = new Map<string, DashboardAsset>();
    const scripts = readdirSync(clientDir).filter((name) => name.endsWith('.js'));
    if (!scripts.includes('dashboard.js')) throw new Error(`dashboard scripts not found in ${clientDir} (is the build complete?)`);
    for (const name of scripts) files.set(APP_ASSET_PREFIX + name, asset(readFileSync(join(clientDir, name)), name));
    const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot'));
    for (const name of UPLOT_FILES) files.set(UPLOT_ASSET_PREFIX + name, asset(readFileSync(join(uplotDir, name)), name));
    return new DashboardAssets(files);
  }

  /** The asset served at `path`, or undefined. */
  get(path: string): DashboardAsset | undefined {
    return this.files.get(path);
  }

  get paths(): string[] {
    return [...this.files.keys()];
  }
}

function asset(body: Buffer, name: string): DashboardAsset {
  const contentType = name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}
