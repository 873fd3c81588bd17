/**
 * `--http host:port` (TAGSTREAM_HTTP, config key `http`) and `--http-insecure-bind`: the web page's
 * address, loopback unless the user insists.
 */
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src/cli/agent-config.js';
import { CliUsageError } from '../../src/cli/errors.js';

const ENV = { HOME: '/home/u', XDG_RUNTIME_DIR: '/run/user/1000' };

describe('the web page option', () => {
  it('is off by default', () => {
    const config = parseAgentConfig({}, ENV, undefined);
    expect(config).not.toBeInstanceOf(CliUsageError);
    if (config instanceof CliUsageError) return;
    expect(config.http).toBeUndefined();
  });

  it('reads host:port from the flag, the variable or the config file, the flag first', () => {
    const of = (flags: Record<string, string | boolean>, env: Record<string, string>, file?: Record<string, unknown>): unknown => {
      const config = parseAgentConfig(flags, { ...ENV, ...env }, file);
      return config instanceof CliUsageError ? config.message : config.http;
    };
    expect(of({ http: '127.0.0.1:8080' }, { TAGSTREAM_HTTP: '127.0.0.1:9090' })).toEqual({ host: '127.0.0.1', port: 8080, insecureBind: false });
    expect(of({}, { TAGSTREAM_HTTP: 'localhost:9090' })).toEqual({ host: 'localhost', port: 9090, insecureBind: false });
    expect(of({}, {}, { http: '[::1]:0' })).toEqual({ host: '::1', port: 0, insecureBind: false });
  });

  it('refuses an address that is not loopback unless --http-insecure-bind is given', () => {
    const refused = parseAgentConfig({ http: '0.0.0.0:8080' }, ENV, undefined);
    expect(refused).toBeInstanceOf(CliUsageError);
    expect(refused instanceof CliUsageError ? refused.message : '').toContain('--http-insecure-bind');
    const insisted = parseAgentConfig({ http: '0.0.0.0:8080', 'http-insecure-bind': true }, ENV, undefined);
    expect(insisted instanceof CliUsageError ? insisted.message : insisted.http).toEqual({ host: '0.0.0.0', port: 8080, insecureBind: true });
    const fromFile = parseAgentConfig({}, ENV, { http: '10.0.0.5:8080', httpInsecureBind: true });
    expect(fromFile instanceof CliUsageError ? fromFile.message : fromFile.http).toEqual({ host: '10.0.0.5', port: 8080, insecureBind: true });
  });

  it('says what is wrong with a malformed address, and with the opt-in alone', () => {
    for (const bad of ['8080', '127.0.0.1', '127.0.0.1:', '127.0.0.1:99999', 'http://127.0.0.1:8080', '::1:8080']) {
      const config = parseAgentConfig({ http: bad }, ENV, undefined);
      expect(config, bad).toBeInstanceOf(CliUsageError);
      expect(config instanceof CliUsageError ? config.message : '').toContain('expected host:port');
    }
    const alone = parseAgentConfig({ 'http-insecure-bind': true }, ENV, undefined);
    expect(alone instanceof CliUsageError ? alone.message : '').toContain('has no effect without --http');
  });
});
