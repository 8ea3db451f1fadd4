package dynamo

// For the external tests, which hold decodeItem to attributevalue's
// decoding of the same record.
var DecodeItem = decodeItem

type Record = record
