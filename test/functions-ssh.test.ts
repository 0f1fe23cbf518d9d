/**
 * A user's driver script run the usual ways — TypeScript under tsx, TypeScript compiled by tsc (to ES
 * modules and to CommonJS) and run by node, and a plain .mjs — each shipping a function with an inner helper, a top-level
 * helper, an imported local module and an npm package (inline and as a { module, export }) over
 * the real sshd: every result right.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDist } from "./helpers/dist.js";
import { type DriverKind, EXPECTED, writeDriver } from "./helpers/drivers.js";
import { makeProject, type Project } from "./helpers/project.js";
import { sshTestbed } from "./helpers/ssh.js";

const sshd = sshTestbed("rr-fnssh");
const projects: Project[] = [];

beforeAll(async () => {
  await ensureDist();
});
afterAll(() => {
  for (const p of projects) p.remove();
});

describe("a driver script ships its function over ssh", () => {
  it.each<DriverKind>(["tsx", "tsc", "tsc-cjs", "mjs"])(
    "run as %s: inner helper, local module and npm package",
    async (kind) => {
      const project = makeProject(kind);
      projects.push(project);
      const { command, args, module } = await writeDriver(project, kind);
      const { remoteDir } = sshd.dirs(kind);
      const config = {
        module,
        options: {
          connection: sshd.server.connectionOptions(),
          dbDir: project.dir,
          localDir: `${project.dir}/local`,
          remoteDir,
          verbose: 0,
        },
      };
      const r = await project.run(command, [...args, JSON.stringify(config)]);
      expect(r.err).not.toMatch(/__name|is not defined/);
      expect(r.code, r.err).toBe(0);
      const lines = r.out.trim().split("\n");
      expect(JSON.parse(lines.at(-1)!)).toEqual({ inline: EXPECTED, module: EXPECTED });
    },
  );
});
