// Preloaded into a child process (NODE_OPTIONS=--import): names under
// .wardgate.test resolve to 127.0.0.1 without asking any DNS server, so a test
// can give a host that no default bypass covers and still reach it directly.
import dns from 'node:dns';

const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (typeof hostname !== 'string' || !/\.wardgate\.test$/i.test(hostname))
    return lookup.call(this, hostname, options, callback);
  const cb = typeof options === 'function' ? options : callback;
  const all = typeof options === 'object' && options !== null && options.all === true;
  process.nextTick(() => (all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)));
  return {};
};
