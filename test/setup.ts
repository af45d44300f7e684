// First import of the test run: the Node 20 polyfill for libp2p 3, then libsodium's one-time init.
import '../src/polyfill.js'
import '../src/crypto/sodium.js'
