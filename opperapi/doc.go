// Package opperapi holds the wire types of the Opper trace API, v2 and v3:
// request and response bodies of every trace endpoint and both error shapes,
// as real Opper clients send and validate them. The exporter writes these
// types and the receiver reads and answers with them.
package opperapi // import "github.com/opperotel/bridge/opperapi"
