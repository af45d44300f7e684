// Types for qrcode-terminal 0.12 (the package ships none): only what src/cli/id uses.
declare module 'qrcode-terminal' {
  interface QrcodeTerminal {
    generate(input: string, options: { small?: boolean }, callback: (qr: string) => void): void
  }
  const qrcode: QrcodeTerminal
  export default qrcode
}
