#!/usr/bin/env node
// Runs bin/spark-runner.ts through tsx, so `npx spark-runner` works without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./spark-runner.ts');
