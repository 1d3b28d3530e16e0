// See package.json: the bench never loads WebRTC; loading it means something changed upstream.
throw new Error('node-datachannel is stubbed out in torrenttp (bench/stubs): WebRTC is not available');
