package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/uuid"

	"github.com/careervp/vprstatus/awsenv"
	"github.com/careervp/vprstatus/status"
)

// seedAWS makes the table and bucket if they are missing and puts one demo
// job per state in them for user, as the submit endpoint and the worker
// would. It is for local protocol servers such as dynalite and s3rver: the
// service itself never writes.
func seedAWS(ctx context.Context, b *awsenv.Backends, user string) (map[status.State]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	table, bucket := b.Settings.JobsTable, b.Settings.ResultsBucket
	_, err := b.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []dbtypes.AttributeDefinition{{AttributeName: aws.String("job_id"), AttributeType: dbtypes.ScalarAttributeTypeS}},
		KeySchema:            []dbtypes.KeySchemaElement{{AttributeName: aws.String("job_id"), KeyType: dbtypes.KeyTypeHash}},
		BillingMode:          dbtypes.BillingModePayPerRequest,
	})
	var inUse *dbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return nil, fmt.Errorf("seed: create table %s: %w", table, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(b.DynamoDB, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second // the default first wait is 20s
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 25*time.Second); err != nil {
		return nil, fmt.Errorf("seed: table %s: %w", table, err)
	}
	_, err = b.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return nil, fmt.Errorf("seed: create bucket %s: %w", bucket, err)
	}

	ids := make(map[status.State]string)
	now := time.Now().UTC()
	at := func(ago time.Duration) *dbtypes.AttributeValueMemberS {
		return &dbtypes.AttributeValueMemberS{Value: now.Add(-ago).Format(time.RFC3339)}
	}
	str := func(v string) *dbtypes.AttributeValueMemberS { return &dbtypes.AttributeValueMemberS{Value: v} }
	for _, st := range []status.State{status.Pending, status.Processing, status.Completed, status.Failed} {
		id := uuid.NewString()
		ids[st] = id
		item := map[string]dbtypes.AttributeValue{
			"job_id": str(id), "user_id": str(user), "status": str(string(st)), "created_at": at(time.Minute),
			// A day, so the demo outlives a working session; real jobs live minutes.
			"ttl": &dbtypes.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(24*time.Hour).Unix(), 10)},
		}
		switch st {
		case status.Processing:
			item["started_at"] = at(50 * time.Second)
		case status.Completed:
			key := "results/" + id + ".json"
			_, err := b.S3.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key),
				Body: strings.NewReader(string(sampleReport(id))), ContentType: aws.String("application/json"),
			})
			if err != nil {
				return nil, fmt.Errorf("seed: put result %s: %w", key, err)
			}
			item["started_at"], item["completed_at"], item["result_key"] = at(50*time.Second), at(10*time.Second), str(key)
			item["token_usage"] = &dbtypes.AttributeValueMemberM{Value: map[string]dbtypes.AttributeValue{
				"input_tokens":  &dbtypes.AttributeValueMemberN{Value: "5120"},
				"output_tokens": &dbtypes.AttributeValueMemberN{Value: "2048"},
			}}
		case status.Failed:
			item["started_at"], item["completed_at"] = at(50*time.Second), at(10*time.Second)
			item["error"] = str("The model could not produce a report for this job description")
		}
		if _, err := b.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			return nil, fmt.Errorf("seed: put job %s: %w", id, err)
		}
	}
	return ids, nil
}
