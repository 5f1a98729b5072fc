/** Minimal local typings for the parts of `autocannon` the bench uses. */
declare module "autocannon" {
  interface Options {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
    timeout?: number
  }
  interface Histogram {
    average: number
    mean: number
    p50: number
    p99: number
    max: number
    total: number
  }
  interface Result {
    requests: Histogram & { sent: number }
    latency: Histogram
    "2xx": number
    non2xx: number
    errors: number
    timeouts: number
    duration: number
  }
  function autocannon(options: Options): Promise<Result>
  export default autocannon
}
