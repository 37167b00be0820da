#!/usr/bin/env node
// The `floe` command. The package is built on install (npm's prepare step), so dist/ exists.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
