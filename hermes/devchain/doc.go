// Package devchain runs a development chain for the hermes payments: the
// go-ethereum simulated backend (chain ID 1337) in this process, with a
// TestToken and a Registry deployed by a throwaway deployer key.
//
// It is what `mystp2p testnet chain` serves to other mystp2p processes and
// what the testnet's payments scenario settles on. Nothing on it is worth
// anything and it lives in memory only: the deployer's key, and with it the
// chain's money, dies with the process.
//
// New starts a chain. Transactions sent through Chain.Chain are mined at
// once. With Config.Listen set the chain is also served over HTTP JSON-RPC
// on a loopback address (eth, net, web3 and txpool namespaces), and what
// other processes send there is mined within Config.MineEvery; a block is
// mined at least every Config.BlockEvery too, so that the Registry's delays
// (Config.WithdrawDelay, Config.LeaveDelay, in blocks) pass with time. Mine
// adds blocks at once, for tests. Fund,
// SendEther and MintTokens give addresses gas money and test tokens from
// the deployer. Close stops the chain.
package devchain
