// HTTP to model servers. A connection that fails before any answer (a keep-alive socket the server
// closed as it was reused) is tried once more, as proxies do; a timeout or an answer, even an error
// answer, is final: those count against the model.
export async function fetchModel(url: string, body: unknown, timeoutMs: number): Promise<Response> {
  const send = () =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  return send().catch((err: Error) => (err.name === 'TimeoutError' ? Promise.reject(err) : send()));
}
