// The arrows that must never exist in Wardline, checked by `npm run check:deps`
// (part of `npm test`). Each rule says why it holds; ARCHITECTURE.md draws the layers.
//
// Paths are relative to the repository root. Tests (`test/**`) are free to reach a
// part's internals — a unit test exercises a pure piece directly, and an integration test
// wires an agent to a relay on purpose — so every rule below exempts them. Composition
// roots (`agent/main.ts`, `cloud-relay/main.ts`) are NOT exempt from the index rule: they
// wire parts through the same public surfaces everyone else uses, which is what keeps
// each `index.ts` an honest list.
//
// There is no list of tolerated exceptions: the tree has none, and a new arrow fails.

/** Source folders that are cruised; anything else resolved is an npm package or Node built-in. */
const SOURCES = '^(agent|cloud-relay|protocol|runtime|cli|installer|simulator|test)/';
const TESTS = '^test/';
/** npm packages; the leading part allows a node_modules that is a symlink to another checkout. */
const NPM = '(^|/)node_modules/';

/**
 * A folder's index.ts lists what others may use; everything else in it is internal. An
 * import from outside a folder must target that folder's index.ts. Files in a folder, and
 * in folders below it, may import its files directly (a source kind implements
 * ../source.ts; a part uses its program's ../errors.ts). The CLI is checked by
 * cli-through-public-surfaces instead; tests are exempt (see the header).
 *
 * One rule per depth of the importer, because dependency-cruiser refuses a regular
 * expression with nested quantifiers: $1..$n are the importer's folder and its ancestors,
 * and a target directly inside one of them is allowed.
 */
function throughTheFolderIndex() {
  const rules = [];
  for (let depth = 1; depth <= 4; depth += 1) {
    const folders = Array.from({ length: depth }, () => '([^/]+)').join('/');
    const ancestors = Array.from({ length: depth }, (_, i) =>
      `^${Array.from({ length: i + 1 }, (_, j) => `$${j + 1}`).join('/')}/[^/]+$`,
    );
    rules.push(
      forbid(
        'through-the-folder-index',
        "An import from outside a folder must target that folder's index.ts (see throughTheFolderIndex).",
        { path: `^${folders}/[^/]+$`, pathNot: [TESTS, '^cli/'] },
        { path: SOURCES, pathNot: ['/index\\.ts$', '^protocol/generated/', ...ancestors] },
      ),
    );
  }
  return rules;
}

/** A rule that fails `npm test`: imports from `from` to `to` must never exist, for `reason`. */
function forbid(name, reason, from, to) {
  return { name, comment: reason, severity: 'error', from, to };
}

module.exports = {
  forbidden: [
    forbid(
      'agent-not-to-relay',
      'The agent runs in the hospital, the relay in the cloud; they ship and upgrade separately. ' +
      'What both must agree on (proto, batch codec, batch decision, names, error codes, version) lives in protocol/.',
      { path: '^agent/' },
      { path: '^cloud-relay/' },
    ),
    forbid(
      'relay-not-to-agent',
      'Same reason as agent-not-to-relay, the other way: the relay never links agent code.',
      { path: '^cloud-relay/' },
      { path: '^agent/' },
    ),
    forbid(
      'relay-store-not-to-ingest',
      'The store is a port (FeedStore) a second backend must be able to implement without the gRPC ingest side. ' +
      'The batch decision it needs lives in protocol/batch-decision.ts; ingest calls the store, never the reverse.',
      { path: '^cloud-relay/store/' },
      { path: '^cloud-relay/ingest/' },
    ),
    forbid(
      'data-path-not-to-operations',
      'Operations (status, metrics, alerts, dashboard) observes the data path; the data path must keep working ' +
      'without it. Only the composition root (agent/main.ts, and agent/config.ts which assembles every part\'s config ' +
      'schema for it), the public surface (agent/index.ts), the HTTP routes (agent/http/**) and operations itself ' +
      'may import agent/operations/**.',
      { path: '^agent/', pathNot: '^agent/(main\\.ts|config\\.ts|index\\.ts|http/|operations/)' },
      { path: '^agent/operations/' },
    ),
    forbid(
      'protocol-self-contained',
      'protocol/ is the wire contract both programs and outside clients build on: it may use its own files and ' +
      'npm libraries (and Node built-ins such as zlib and crypto for the batch codec) — no runtime/ helper, no program code.',
      { path: '^protocol/' },
      { pathNot: ['^protocol/', NPM], dependencyTypesNot: ['core'] },
    ),
    forbid(
      'runtime-not-to-programs',
      'runtime/ holds the Node helpers both programs use (config file, units, openssl, PEM, logger, readiness, ' +
      'part lifecycle); it sits below the programs and must not know any of them.',
      { path: '^runtime/' },
      { path: '^(agent|cloud-relay|cli|installer|simulator)/' },
    ),
    forbid(
      'cli-through-public-surfaces',
      'The CLI is a client of the programs: it may import only their public surfaces (agent/index.ts, ' +
      'cloud-relay/index.ts, installer/index.ts, protocol/index.ts, runtime/index.ts, simulator/index.ts) and its ' +
      'own files, so a part can be reshaped without breaking a subcommand.',
      { path: '^cli/' },
      { path: SOURCES, pathNot: ['^cli/', '^(agent|cloud-relay|installer|protocol|runtime|simulator)/index\\.ts$'] },
    ),
    ...throughTheFolderIndex(),
    forbid(
      'generated-code-through-protocol',
      'protocol/generated/ is generated by scripts/generate-protocol.mjs and has no hand-written index; ' +
      'protocol/index.ts re-exports what others need from it.',
      { pathNot: ['^protocol/', TESTS] },
      { path: '^protocol/generated/' },
    ),
    forbid(
      'not-to-tests',
      'Shipped code never imports test code; dist/ would carry it and production would run it.',
      { pathNot: TESTS },
      { path: TESTS },
    ),
  ],
  options: {
    // Count `import type` too: a type-only import is still an arrow between parts.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.d.ts', '.js', '.cjs', '.mjs', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
