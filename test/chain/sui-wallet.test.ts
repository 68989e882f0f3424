import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { normalizeSuiAddress } from '@mysten/sui/utils'
import { suiBalances, walCoinType } from '../../src/chain/sui-wallet.js'
import { SUI_TYPE } from '../helpers/sui-standin-chain.js'
import { suiStandIn, SYSTEM_OBJECT, TYPE_PACKAGE } from '../helpers/sui-standin.js'
import { stakeWithPool } from '../helpers/sui-standin-walrus.js'

const WAL = `${normalizeSuiAddress('0x3a1')}::wal::WAL`

describe('Sui wallet', () => {
  it('reads the SUI and WAL balances of an address with GetBalance', async () => {
    const sui = suiStandIn({ fundSui: 0n })
    const operator = Ed25519Keypair.generate().toSuiAddress()
    sui.chain.fund(operator, SUI_TYPE, 3_500_000_000n)
    sui.chain.fund(operator, WAL, 42n)
    assert.deepEqual(await suiBalances(sui.client, operator, WAL), { sui: 3_500_000_000n, wal: 42n })
    assert.deepEqual(await suiBalances(sui.client, sui.address, WAL), { sui: 0n, wal: 0n }, 'an unfunded address has nothing, not an error')
    const asked = sui.grpc.calls.filter(c => c.method.endsWith('/GetBalance')).map(c => [c.request.owner, c.request.coinType])
    assert.deepEqual(asked.slice(0, 2).sort(), [[operator, SUI_TYPE], [operator, WAL]].sort())
    await assert.rejects(suiBalances(sui.client, 'not-an-address', WAL), { name: 'InvalidTransactionError' })
    await assert.rejects(suiBalances(sui.client, operator, 'WAL'), { name: 'InvalidTransactionError' })
  })

  it('reads the WAL coin type from the Walrus package, as the Walrus SDK does', async () => {
    const sui = suiStandIn()
    sui.grpc.functions.set(`${TYPE_PACKAGE}::staking::stake_with_pool`, stakeWithPool(TYPE_PACKAGE, WAL))
    assert.equal(await walCoinType(sui.client, SYSTEM_OBJECT), WAL)
    assert.deepEqual(sui.grpc.methods(), ['BatchGetObjects', 'GetFunction'])
    assert.equal(sui.grpc.calls[1]!.request.packageId, TYPE_PACKAGE)
    sui.grpc.functions.clear()
    await assert.rejects(walCoinType(sui.client, SYSTEM_OBJECT), { name: 'RetryableLedgerError' })
  })
})
