// Runs on the audio thread: turns the microphone (at the AudioContext's rate, typically
// 48 kHz) into 24 kHz mono PCM16, posted to the page in 100 ms chunks.
class Pcm16Resampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const targetRate = options.processorOptions.targetRate;
    this.step = sampleRate / targetRate; // input samples per output sample (2 at 48 kHz)
    this.position = 0; // where the next output sample is read, relative to this block (-1 = last one)
    this.last = 0; // the previous block's final sample, for interpolating across blocks
    this.chunkSize = targetRate / 10;
    this.chunk = new Int16Array(this.chunkSize);
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0][0]; // first channel of the first input; absent while muted
    if (input) {
      let t = this.position;
      for (; t < input.length - 1; t += this.step) {
        const i = Math.floor(t);
        const a = i < 0 ? this.last : input[i];
        this.push(a + (input[i + 1] - a) * (t - i)); // linear interpolation
      }
      this.position = t - input.length;
      this.last = input[input.length - 1];
    }
    return true; // keep running
  }

  push(sample) {
    this.chunk[this.filled++] = Math.max(-1, Math.min(1, sample)) * 0x7fff;
    if (this.filled === this.chunkSize) {
      this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]); // transfer, no copy
      this.chunk = new Int16Array(this.chunkSize);
      this.filled = 0;
    }
  }
}

registerProcessor("pcm16-resampler", Pcm16Resampler);
