#!/usr/bin/env -S node --max-semi-space-size=64
// Runs the TypeScript CLI through tsx so `npx duban …` works without a build step.
// The larger young generation: a server with many requests in flight scavenges far less (README, Configuration).
import { register } from 'tsx/esm/api';
register();
await import('../src/cli.ts');
