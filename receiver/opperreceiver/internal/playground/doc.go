// Package playground replays a conversation against a model provider: any
// OpenAI-compatible Chat Completions endpoint (OpenAI, Opper's compatible
// API, Ollama, vLLM, LiteLLM). It converts the translator's canonical
// messages to chat messages and the provider's answer back, streamed or
// not, and turns every failure into a *ProviderError whose text can be
// shown to the user as it is. The provider's API key never appears in an
// error, a log line or a printed value.
package playground // import "github.com/opperotel/bridge/receiver/opperreceiver/internal/playground"
