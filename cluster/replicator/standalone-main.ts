// Entry point of the replica-only process (see standalone.ts).
import { runStandalone } from './standalone.js';

await runStandalone(process.argv.slice(2));
