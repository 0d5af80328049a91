// Builds both outputs of the package: dist/esm (ES modules) and dist/cjs
// (CommonJS), each with .d.ts. The package is "type": "module", so dist/cjs
// gets a package.json of its own saying "commonjs" for Node to load its .js
// files as CommonJS. Uses the tsc of devDependencies; no network.
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
rmSync(join(root, "dist"), { recursive: true, force: true });
for (const cfg of ["tsconfig.esm.json", "tsconfig.cjs.json"]) {
  execFileSync(process.execPath, [tsc, "-p", join(root, cfg)], { stdio: "inherit" });
}
writeFileSync(join(root, "dist", "cjs", "package.json"), JSON.stringify({ type: "commonjs" }) + "\n");
writeFileSync(join(root, "dist", "esm", "package.json"), JSON.stringify({ type: "module" }) + "\n");
