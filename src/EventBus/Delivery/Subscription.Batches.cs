namespace EventBus;

/// <content>Batch handlers: taking batches from the buffer and delivering them as a whole.</content>
internal sealed partial class Subscription
{
    private bool TakeInto(List<Envelope> batch, int max)
    {
        while (batch.Count < max && _buffer.TryRead(out var envelope))
        {
            _buffered.Take();
            batch.Add(envelope);
        }

        if (batch.Count > 0)
        {
            _roomWaiter.Wake();
        }

        return batch.Count > 0;
    }

    /// <summary>Waits up to the batch's wait for more events, taking them as they arrive.</summary>
    private async ValueTask FillWithinAsync(List<Envelope> batch, BatchHandlerInvoker invoker)
    {
        using var deadline = new CancellationTokenSource(invoker.MaxWait, _env.Time);
        try
        {
            while (batch.Count < invoker.MaxBatchSize && await _buffer.WaitToReadAsync(deadline.Token).ConfigureAwait(false))
            {
                TakeInto(batch, invoker.MaxBatchSize);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
        }
    }
}
