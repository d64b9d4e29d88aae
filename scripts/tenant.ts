/**
 * CLI (contract): tenant administration through the admin API at UNMASK_URL (default http://127.0.0.1:8787),
 * authenticated with ADMIN_TOKEN from the environment. Prints the JSON result; one-line error, exit 1, on failure.
 *   npm run tenant -- create --name X [--with-key] [--rpm N] [--tpm N] [--models a,b] [--max-concurrent N] [--max-tokens N]
 *                           [--budget-tokens N] [--budget-period day|month] [--degrade-to-edge]
 *   npm run tenant -- update --tenant ID [same flags as create; --models all clears the allow-list]
 *   npm run tenant -- get --tenant ID | list | keys --tenant ID
 *   npm run tenant -- key --tenant ID [--expires-at ISO]
 *   npm run tenant -- rotate --key ID [--revoke-old-at ISO] [--expires-at ISO]
 *   npm run tenant -- revoke --key ID
 *   npm run tenant -- usage --tenant ID [--since ISO]
 */
import { parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import { createTenantWithKey, FLAGS, send, toCall } from '../backends/node/admin-client.ts';

runMain('tenant', async () => {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseFlags(rest, FLAGS, false);
  if (values['with-key'] && command !== 'create')
    throw new UsageError('--with-key applies to create only');
  const call = toCall(command, values);
  // create --with-key: the new tenant plus its first key (shown once), in one step.
  const output = values['with-key']
    ? await createTenantWithKey(call.body!)
    : ((await send(call)) as Record<string, unknown>);
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
});
