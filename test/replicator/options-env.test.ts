import { describe, expect, it } from 'vitest';
import { replicatorOptionsFromEnv } from '../../cluster/replicator/options.js';
import { exitCodeFor } from '../../core/command-line.js';
import { ConfigError } from '../../core/errors.js';

describe('replicatorOptionsFromEnv: a node process reads MF_GROUP_COMMIT_LINGER_MS and MF_REPLICATION_MUX', () => {
  it('reads a linger in ms (a plain decimal) and MF_REPLICATION_MUX=1; unset or empty leaves the defaults', () => {
    expect(replicatorOptionsFromEnv({ MF_GROUP_COMMIT_LINGER_MS: '2.5', MF_REPLICATION_MUX: '1' })).toEqual({
      groupCommitLingerMs: 2.5,
      multiplexStreams: true,
    });
    expect(replicatorOptionsFromEnv({ MF_GROUP_COMMIT_LINGER_MS: '', MF_REPLICATION_MUX: '0' })).toEqual({});
    expect(replicatorOptionsFromEnv({})).toEqual({});
  });

  // Before: "1e1" was read as 10 by Number(), and a refused value was a plain Error thrown while
  // the module loaded (a stack trace, exit 1).
  it.each(['abc', '1e1', '-1', '101'])(
    'refuses MF_GROUP_COMMIT_LINGER_MS="%s" as a configuration error naming the variable (exit 2)',
    (text) => {
      let thrown: unknown;
      try {
        replicatorOptionsFromEnv({ MF_GROUP_COMMIT_LINGER_MS: text });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect(exitCodeFor(thrown as ConfigError)).toBe(2);
      expect((thrown as ConfigError).details.problems).toEqual([
        `MF_GROUP_COMMIT_LINGER_MS must be a number from 0 to 100 (ms a group commit waits for more writes), not "${text}"`,
      ]);
    },
  );
});
