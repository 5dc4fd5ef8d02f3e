// Writes the TypeScript declarations of the `secret-provider` world (guest side: what a
// component imports and exports) for the WIT in argv[3] into argv[4], with the jco-transpile
// installed under argv[2] (see ../check-types).
//
// jco-transpile reads the WIT through the preview2-shim's WASI filesystem, which since
// preview2-shim 0.25 starts with no preopens, so `jco guest-types` 1.35.0 cannot read any path;
// granting `/` on the shared module instance first is the workaround.

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [tools, wit, out] = process.argv.slice(2);
if (!tools || !wit || !out) {
  console.error('usage: gen-types.mjs TOOLS_DIR WIT_DIR OUT_DIR');
  process.exit(2);
}
const req = createRequire(join(resolve(tools), 'package.json'));
const shim = await import(pathToFileURL(req.resolve('@bytecodealliance/preview2-shim/filesystem')));
shim._setPreopens({ '/': '/' });
const { generateGuestTypes } = await import(pathToFileURL(req.resolve('@bytecodealliance/jco-transpile')));
const files = await generateGuestTypes(resolve(wit), { worldName: 'secret-provider' });
await rm(out, { recursive: true, force: true });
for (const [name, bytes] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
  const path = join(out, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}
