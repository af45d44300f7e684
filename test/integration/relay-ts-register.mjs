// Registers relay-ts-hooks.mjs (node --import ./relay-ts-register.mjs ...), for relay-kill.test.ts's child.
import { register } from 'node:module'

register('./relay-ts-hooks.mjs', import.meta.url)
