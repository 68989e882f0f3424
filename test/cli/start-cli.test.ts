import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { request } from 'undici'
import { isLoopbackHost } from '../../src/cli/commands/start.js'
import { CLI, runCli, spawnCli, tempDir, type Spawned } from '../helpers/devnet.js'
import { randomModel } from '../helpers/mesh.js'

describe('herd start', () => {
  it('runs alone on its embedded Walrus and ledger, serves a pushed model, and stops cleanly on SIGTERM', async () => {
    await using dir = await tempDir()
    const node = await spawnCli(['start', '--data-dir', join(dir.path, 'node'), '--api-port', '0'])
    try {
      const { ready } = node
      assert.match(ready.peerId, /^12D3KooW/)
      assert.ok(ready.multiaddrs.length >= 1 && ready.multiaddrs.every((a: string) => a.startsWith('/ip4/127.0.0.1/tcp/')))
      assert.match(ready.api, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.match(ready.walrus, /^http:\/\/127\.0\.0\.1:\d+\/?$/)
      const status = await (await request(`${ready.api}/status`)).body.json() as any
      assert.equal(status.peerId, ready.peerId)
      assert.equal(status.peers, 0)
      assert.equal(status.walrus.embedded, true)
      assert.equal(status.ledger.embedded, true)

      const file = join(dir.path, 'model.bin')
      const bytes = randomModel(100_000)
      await writeFile(file, bytes)
      const push = await runCli(['model', 'push', file, '--name', 'blob-model', '--walrus', ready.walrus.replace(/\/$/, ''), '--ledger', ready.ledger, '--data-dir', join(dir.path, 'pusher'), '--chunk-size', '16384'])
      assert.equal(push.code, 0, push.stderr)
      const entry = JSON.parse(push.stdout)
      const fetched = await runCli(['fetch', entry.blobId, '--api', ready.api])
      assert.equal(fetched.code, 0, fetched.stderr)
      const done = JSON.parse(fetched.stdout)
      assert.equal(done.type, 'fetch:done')
      assert.equal(done.source, 'fetched')
      assert.equal(done.bytesFromWalrus, bytes.byteLength)
      const again = JSON.parse((await runCli(['fetch', entry.blobId, '--api', ready.api])).stdout)
      assert.equal(again.source, 'local')
      const served = await request(`${ready.api}/v1/blobs/${entry.blobId}`)
      assert.equal(served.statusCode, 200)
      assert.deepEqual(Buffer.from(await served.body.arrayBuffer()), Buffer.from(bytes))

      assert.equal(await node.stop('SIGTERM'), 0)
      assert.ok(node.lines.some(line => JSON.parse(line).event === 'stopped'))
    } finally {
      await node.stop('SIGKILL')
    }
  })

  it('on a terminal: a summary, then a line per event (JSON lines with --json); --log-level filters them or adds herd\'s debug log, and DEBUG reaches libp2p\'s own log', { timeout: 300_000 }, async t => {
    if (spawnSync('script', ['--version']).error != null) { t.skip('no script(1) (util-linux) here to give herd start a terminal'); return }
    await using dir = await tempDir()
    // script(1) gives the node a terminal (stdout and stderr both on it); the shell says the node's PID before it becomes the node.
    const command = `echo "pid $$"; exec '${process.execPath}' '${CLI}' start --data-dir '${join(dir.path, 'a')}' --api-port 0`
    const terminal = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, DEBUG: 'libp2p:tcp*' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let screen = ''
    terminal.stdout.on('data', (d: Buffer) => { screen += d.toString() })
    const exited = new Promise<number | null>(resolve => terminal.on('exit', code => { resolve(code) }))
    const until = async (check: () => boolean, what: string): Promise<void> => {
      // Bounded by count, not by a tight time: the machine is shared.
      for (let i = 0; !check(); i++) {
        if (i > 1200 || terminal.exitCode != null) assert.fail(`${what} did not happen:\n${screen}`)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
    const row = (name: string): string => new RegExp(`^ {2}${name}\\s+(\\S+)`, 'm').exec(screen)?.[1] ?? ''
    let b: Spawned | undefined
    let pid: number | undefined
    try {
      await until(() => /Ctrl-C stops it/.test(screen), 'the summary')
      pid = Number(/^pid (\d+)/m.exec(screen)?.[1])
      assert.match(screen, /^herd node ready\r?$/m)
      assert.match(row('peer ID'), /^12D3KooW/)
      assert.match(row('listening'), /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
      assert.match(row('API'), /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.equal(row('network'), 'devnet')
      assert.equal(row('data dir'), join(dir.path, 'a'))
      assert.match(screen, /^ {2}cache\s+0 B of 20\.0 GiB quota\r?$/m)
      assert.doesNotMatch(screen, /"event":"ready"/, 'no JSON on a terminal')
      assert.match(screen, /libp2p:tcp/, 'DEBUG=libp2p:tcp* shows libp2p\'s own debug log')

      // B, piped and at --log-level warn: its ready line, none of its info lines (it joined A all the same).
      b = await spawnCli(['start', '--data-dir', join(dir.path, 'b'), '--api-port', '0', '--walrus', row('Walrus').replace(/\/$/, ''), '--ledger', row('ledger'), '--bootstrap', row('listening'), '--log-level', 'warn'])
      const peerB = b.ready.peerId as string
      await until(() => new RegExp(`^\\d\\d:\\d\\d:\\d\\d peer joined ${peerB}\\r?$`, 'm').test(screen), 'A\'s line for B joining')
      assert.equal(await b.stop('SIGTERM'), 0)
      assert.deepEqual(b.lines.map(line => JSON.parse(line).event), ['ready', 'stopped'], 'B printed no info line at --log-level warn')
      await until(() => new RegExp(`^\\d\\d:\\d\\d:\\d\\d peer left ${peerB}\\r?$`, 'm').test(screen), 'A\'s line for B leaving')

      process.kill(pid, 'SIGTERM')
      assert.equal(await exited, 0, screen)
      assert.match(screen, /^stopped\r?$/m)

      // --json on a terminal: JSON lines from the ready line on, as when piped; --log-level debug without DEBUG turns on herd's own debug log.
      const { DEBUG: _debug, ...noDebug } = process.env
      const again = spawn('script', ['-qfec', `echo "pid $$"; exec '${process.execPath}' '${CLI}' start --json --log-level debug --data-dir '${join(dir.path, 'a')}' --api-port 0`, '/dev/null'], { env: noDebug, stdio: ['ignore', 'pipe', 'pipe'] })
      let jsonScreen = ''
      again.stdout.on('data', (d: Buffer) => { jsonScreen += d.toString() })
      const againExited = new Promise<number | null>(resolve => again.on('exit', code => { resolve(code) }))
      try {
        for (let i = 0; !/^\{"event":"ready",.*\}\r?$/m.test(jsonScreen); i++) {
          if (i > 1200 || again.exitCode != null) assert.fail(`no JSON ready line on a terminal with --json:\n${jsonScreen}`)
          await new Promise(resolve => setTimeout(resolve, 100))
        }
        assert.doesNotMatch(jsonScreen, /herd node ready/)
        assert.match(jsonScreen, /herd:node /, 'herd\'s debug log at --log-level debug')
        assert.doesNotMatch(jsonScreen, /libp2p:/, 'libp2p\'s only through DEBUG')
        process.kill(Number(/^pid (\d+)/m.exec(jsonScreen)?.[1]), 'SIGTERM')
        assert.equal(await againExited, 0, jsonScreen)
        assert.match(jsonScreen, /^\{"event":"stopped","signal":"SIGTERM"\}\r?$/m)
      } finally {
        if (again.exitCode == null) {
          const againPid = Number(/^pid (\d+)/m.exec(jsonScreen)?.[1])
          if (againPid > 0) process.kill(againPid, 'SIGKILL')
          again.kill('SIGKILL')
        }
      }
    } finally {
      await b?.stop('SIGKILL')
      // The node, not only script(1): a node left running would hold its ports and temp dir.
      if (terminal.exitCode == null && pid != null) process.kill(pid, 'SIGKILL')
      if (terminal.exitCode == null) terminal.kill('SIGKILL')
    }
  })

  it('warns when the API listens beyond loopback without a token, and only then', async () => {
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) assert.equal(isLoopbackHost(host), true, host)
    for (const host of ['0.0.0.0', '::', '192.0.2.1', '10.0.0.1', 'example.com', '::ffff:8.8.8.8']) assert.equal(isLoopbackHost(host), false, host)
    await using dir = await tempDir()
    // 192.0.2.1 (TEST-NET-1) is on no interface here: the warning comes before the API fails to listen, and nothing is exposed.
    const open = await runCli(['start', '--data-dir', join(dir.path, 'node'), '--api-port', '0', '--api-host', '192.0.2.1'], { timeoutMs: 120_000 })
    assert.notEqual(open.code, 0)
    const warning = open.stdout.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line)).find(line => line.event === 'api:open')
    assert.equal(warning?.level, 'warn')
    assert.equal(warning?.host, '192.0.2.1')
  })

  it('refuses bad configuration with a message that names the problem', async () => {
    await using dir = await tempDir()
    const configPath = join(dir.path, 'bad.json')
    await writeFile(configPath, JSON.stringify({ cache: { quotaBytes: -5 }, listen: ['not-a-multiaddr'] }))
    const bad = await runCli(['start', '--data-dir', dir.path, '--config', configPath])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /cache\.quotaBytes/)
    assert.match(bad.stderr, /listen\.0: not a multiaddr/)
    const notJson = join(dir.path, 'not.json')
    await writeFile(notJson, '{ nope')
    assert.match((await runCli(['start', '--data-dir', dir.path, '--config', notJson])).stderr, /is not JSON/)
    const bootstrap = await runCli(['start', '--data-dir', dir.path, '--bootstrap', '/ip4/127.0.0.1/tcp/4001'])
    assert.match(bootstrap.stderr, /must end in \/p2p\/PEER_ID/)
    const quota = await runCli(['start', '--data-dir', dir.path, '--quota', 'lots'])
    assert.notEqual(quota.code, 0)
    assert.match(quota.stderr, /--quota must be a size/)
  })
})
